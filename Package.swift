// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "inference-autoscaler",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "inference-autoscaler", targets: ["InferenceAutoscaler"]),
        .library(name: "AutoscalerCore", targets: ["AutoscalerCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // The API types and the pure scaling decision: Foundation only, no I/O.
        .target(name: "AutoscalerCore"),
        // Reading policy documents (YAML or JSON, several per file) with source positions.
        .target(
            name: "PolicyFiles",
            dependencies: ["AutoscalerCore", .product(name: "Yams", package: "Yams")]
        ),
        .executableTarget(
            name: "InferenceAutoscaler",
            dependencies: [
                "AutoscalerCore",
                "PolicyFiles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "AutoscalerCoreTests", dependencies: ["AutoscalerCore"]),
        .testTarget(
            name: "InferenceAutoscalerTests",
            dependencies: ["AutoscalerCore", "PolicyFiles", "InferenceAutoscaler"],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
