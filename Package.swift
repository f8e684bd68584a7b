// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "inference-autoscaler",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "inference-autoscaler", targets: ["InferenceAutoscaler"]),
        .executable(name: "decision-bench", targets: ["DecisionBench"]),
        .executable(name: "inference-demo", targets: ["Demo"]),
        .executable(name: "scale-bench", targets: ["ScaleBench"]),
        .library(name: "AutoscalerCore", targets: ["AutoscalerCore"]),
        .library(name: "KubernetesClient", targets: ["KubernetesClient"]),
        .library(name: "CurlHTTP", targets: ["CurlHTTP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // The API types and the pure scaling decision: Foundation only, no I/O.
        .target(name: "AutoscalerCore"),
        // Reading policy documents (YAML or JSON, several per file) with source positions.
        .target(
            name: "PolicyFiles",
            dependencies: ["AutoscalerCore", .product(name: "Yams", package: "Yams")]
        ),
        // libcurl, with typed shims for its variadic setopt/getinfo.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // HTTP over libcurl: one multi handle on its own thread, bridged to async/await; TLS settings.
        .target(name: "CurlHTTP", dependencies: ["CCurl"]),
        // The Kubernetes API: configuration, typed requests, watches, informers.
        .target(
            name: "KubernetesClient",
            dependencies: [
                "CurlHTTP",
                "AutoscalerCore",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["README.md"]
        ),
        // Prometheus' query API over libcurl, and the engines' metric presets.
        .target(name: "PrometheusClient", dependencies: ["CurlHTTP", "AutoscalerCore"]),
        // The reconcile loop: policies in, /scale patches, PodDisruptionBudgets, status and events out.
        .target(
            name: "Controller",
            dependencies: [
                "AutoscalerCore", "KubernetesClient", "PrometheusClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Trace-driven simulation of a fleet of inference pods, driving the same decision as the controller.
        .target(name: "Simulator", dependencies: ["AutoscalerCore"], exclude: ["README.md"]),
        // Test support: an in-memory API server that speaks the real wire protocol over TLS, with fault injection.
        .target(
            name: "KubernetesTestServer",
            dependencies: [
                "AutoscalerCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // Test support: `/metrics` in the Prometheus text format for simulated pods of each engine, on a loopback HTTP
        // server that answers from a closure.
        .target(
            name: "MetricsFixture",
            dependencies: [
                "AutoscalerCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Test support: a real Prometheus process (the Debian package) on a free loopback port.
        .target(name: "PrometheusTestSupport", dependencies: ["CurlHTTP"]),
        .executableTarget(
            name: "InferenceAutoscaler",
            dependencies: [
                "AutoscalerCore",
                "PolicyFiles",
                "PrometheusClient",
                "KubernetesClient",
                "Controller",
                "Simulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // `make bench-decisions`: every shared trace × our policies and the baselines.
        .executableTarget(
            name: "DecisionBench",
            dependencies: [
                "AutoscalerCore", "PolicyFiles", "Simulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // `make demo`: the test API server, simulated vLLM pods, a real Prometheus and the controller, live.
        .executableTarget(
            name: "Demo",
            dependencies: [
                "AutoscalerCore", "KubernetesClient", "KubernetesTestServer", "MetricsFixture", "PolicyFiles",
                "PrometheusTestSupport", "Simulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `make bench-scale`: the controller's cost at 1 to 10,000 policies.
        .executableTarget(
            name: "ScaleBench",
            dependencies: [
                "AutoscalerCore", "KubernetesTestServer", "MetricsFixture", "PrometheusTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "AutoscalerCoreTests", dependencies: ["AutoscalerCore"]),
        .testTarget(
            name: "InferenceAutoscalerTests",
            dependencies: [
                "AutoscalerCore", "PolicyFiles", "InferenceAutoscaler", "MetricsFixture", "PrometheusTestSupport",
                "KubernetesTestServer",
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "KubernetesClientTests",
            dependencies: ["KubernetesClient", "KubernetesTestServer", "AutoscalerCore"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "PrometheusClientTests",
            dependencies: ["PrometheusClient", "MetricsFixture", "PrometheusTestSupport", "CurlHTTP", "AutoscalerCore"]),
        .testTarget(
            name: "ControllerTests",
            dependencies: [
                "Controller", "KubernetesClient", "AutoscalerCore", "KubernetesTestServer", "MetricsFixture",
                "PrometheusTestSupport",
            ]),
        .testTarget(name: "SimulatorTests", dependencies: ["Simulator"]),
        .testTarget(name: "KubernetesTestServerTests", dependencies: ["KubernetesTestServer", "AutoscalerCore"]),
    ],
    swiftLanguageModes: [.v6]
)
