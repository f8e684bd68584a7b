// swift-tools-version:6.0
import PackageDescription

// Targets read bottom-up: each depends only on targets above it. Product modules first, then the test kits
// (Sources/TestKits), then the tools (Sources/Tools), then the tests. Sources/README.md draws the arrows;
// `make layers` checks them.
let package = Package(
    name: "inference-autoscaler",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "inference-autoscaler", targets: ["InferenceAutoscaler"]),
        .executable(name: "inference-tools", targets: ["InferenceTools"]),
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
        // Tests only: a clock the work queue's and the leader elector's tests advance by hand.
        .package(url: "https://github.com/pointfreeco/swift-clocks", from: "1.1.1"),
    ],
    targets: [
        // The Kubernetes wire model: JSON values, object metadata, timestamps, the policy's CRD structs, Scale,
        // watch events. Foundation only.
        .target(name: "KubernetesModel"),
        // Resolved policies, their validation from the wire model, and the pure scaling decision. No I/O.
        .target(name: "AutoscalerCore", dependencies: ["KubernetesModel"]),
        // Reading policy documents (YAML or JSON, several per file) with source positions.
        .target(
            name: "PolicyFiles",
            dependencies: ["AutoscalerCore", "KubernetesModel", .product(name: "Yams", package: "Yams")]
        ),
        // libcurl, with typed shims for its variadic setopt/getinfo.
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // HTTP over libcurl: one multi handle on its own thread, bridged to async/await; TLS settings.
        .target(name: "CurlHTTP", dependencies: ["CCurl"]),
        // The Kubernetes API: configuration, typed requests, watches, informers.
        .target(
            name: "KubernetesClient",
            dependencies: [
                "CurlHTTP", "KubernetesModel",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["README.md"]
        ),
        // Signals from Prometheus: the query API, the engines' presets, per-namespace batches, `SignalSource`.
        .target(name: "Signals", dependencies: ["AutoscalerCore", "KubernetesModel", "CurlHTTP"]),
        // The reconcile loop: read, plan (pure), execute; the work queue, leader election, probes and metrics.
        .target(
            name: "Controller",
            dependencies: [
                "AutoscalerCore", "KubernetesModel", "KubernetesClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Trace-driven simulation of a fleet of inference pods, driving the same decision as the controller.
        .target(name: "Simulator", dependencies: ["AutoscalerCore", "KubernetesModel"], exclude: ["README.md"]),
        // `convert`: KEDA ScaledObjects and autoscaling/v2 HPAs to policies, recognizing the engines' metrics.
        .target(
            name: "Migration",
            dependencies: [
                "AutoscalerCore", "KubernetesModel", "Signals", .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The `run` command's flags, shared by the controller and the tools that start it.
        .target(
            name: "ControllerOptions",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A workload's own traffic and replica count read back from Prometheus, as a trace for the simulator.
        .target(name: "Replay", dependencies: ["AutoscalerCore", "Signals", "Simulator"]),
        // `inference-autoscaler`: run, validate, simulate, decide, query, version. Wires the services together.
        .executableTarget(
            name: "InferenceAutoscaler",
            dependencies: [
                "KubernetesModel", "AutoscalerCore", "PolicyFiles", "KubernetesClient", "Signals", "Controller",
                "Simulator", "ControllerOptions", "Migration", "Replay",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // Test kit: an in-memory API server that speaks the real wire protocol over TLS, with fault injection.
        .target(
            name: "KubernetesTestServer",
            dependencies: [
                "KubernetesModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Sources/TestKits/KubernetesTestServer"
        ),
        // Test kit: `/metrics` in the Prometheus text format for simulated pods of each engine, on a loopback HTTP
        // server that answers from a closure.
        .target(
            name: "MetricsFixture",
            dependencies: [
                "AutoscalerCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Sources/TestKits/MetricsFixture"
        ),
        // Test kit: a real Prometheus process (the Debian package) on a free loopback port.
        .target(
            name: "PrometheusTestSupport", dependencies: ["CurlHTTP"], path: "Sources/TestKits/PrometheusTestSupport"),
        // Test kit: a real control plane (etcd, kube-apiserver with RBAC, kube-controller-manager) from
        // ../shared/kube/control-plane, with kubectl, ServiceAccount kubeconfigs and the audit log. Foundation only.
        .target(name: "KubernetesControlPlane", path: "Sources/TestKits/KubernetesControlPlane"),

        // `inference-tools demo | decision-bench | scale-bench`: `make demo`, `make bench-decisions`,
        // `make bench-scale`.
        .executableTarget(
            name: "InferenceTools",
            dependencies: [
                "KubernetesModel", "AutoscalerCore", "PolicyFiles", "KubernetesClient", "Simulator",
                "ControllerOptions", "KubernetesTestServer", "MetricsFixture", "PrometheusTestSupport",
                "KubernetesControlPlane",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Tools"
        ),

        .testTarget(name: "AutoscalerCoreTests", dependencies: ["AutoscalerCore", "KubernetesModel"]),
        .testTarget(
            name: "KubernetesTestServerTests", dependencies: ["KubernetesTestServer", "KubernetesModel"]),
        .testTarget(
            name: "KubernetesClientTests",
            dependencies: ["KubernetesClient", "KubernetesModel", "KubernetesTestServer"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "SignalsTests",
            dependencies: [
                "Signals", "AutoscalerCore", "KubernetesModel", "CurlHTTP", "MetricsFixture", "PrometheusTestSupport",
            ]
        ),
        .testTarget(
            name: "ReplayTests",
            dependencies: ["Replay", "Signals", "Simulator", "AutoscalerCore", "CurlHTTP", "PrometheusTestSupport"]
        ),
        .testTarget(
            name: "ControllerTests",
            dependencies: [
                "Controller", "Signals", "KubernetesClient", "AutoscalerCore", "KubernetesModel",
                "KubernetesTestServer", "MetricsFixture", "PrometheusTestSupport", "KubernetesControlPlane",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Clocks", package: "swift-clocks"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .testTarget(
            name: "MigrationTests",
            dependencies: ["Migration", "AutoscalerCore", "KubernetesModel", "PolicyFiles"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "SimulatorTests", dependencies: ["Simulator", "AutoscalerCore", "KubernetesModel"]),
        .testTarget(
            name: "InferenceAutoscalerTests",
            dependencies: [
                "InferenceAutoscaler", "ControllerOptions", "AutoscalerCore", "KubernetesModel", "PolicyFiles",
                "KubernetesTestServer", "MetricsFixture", "PrometheusTestSupport",
            ],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
