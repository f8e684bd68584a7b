import Foundation
import KubernetesModel
import KubernetesTestServer

@testable import KubernetesClient

/// A running test API server and clients for it.
struct TestCluster: Sendable {
    let server: TestAPIServer
    static let token = "test-token"

    func configuration(
        caPEM: Data?, insecure: Bool = false, token: (any BearerTokenSource)? = nil
    ) -> ClusterConfiguration {
        var tls = TLSSettings()
        tls.caCertificatePEM = caPEM
        tls.insecureSkipVerify = insecure
        return ClusterConfiguration(
            server: server.url, tls: tls, credentials: .token(token ?? StaticToken(Self.token)), namespace: "default",
            source: "test server")
    }

    /// Which CA the client trusts.
    enum Trust {
        case serverCA
        case pem(Data)
        /// None configured: libcurl's default store.
        case systemDefault
    }

    func client(
        trust: Trust = .serverCA, insecure: Bool = false, token: (any BearerTokenSource)? = nil,
        requestTimeout: Double = 10, retry: RetryPolicy = RetryPolicy(maxAttempts: 3, baseDelay: 0.01, maxDelay: 0.1)
    ) -> KubernetesAPIClient {
        let ca: Data?
        switch trust {
        case .serverCA: ca = Data(server.caCertificatePEM.utf8)
        case .pem(let pem): ca = pem
        case .systemDefault: ca = nil
        }
        return KubernetesAPIClient(
            configuration: configuration(caPEM: ca, insecure: insecure, token: token),
            options: .init(rateLimit: .init(qps: 500, burst: 500), retry: retry, requestTimeout: requestTimeout))
    }
}

func withCluster(_ body: (TestCluster) async throws -> Void) async throws {
    let server = try await TestAPIServer.start(
        .init(tokens: [TestCluster.token], initialNamespaces: ["default", "inference", "a", "w"]))
    server.register(
        .customResource(
            group: "leaderworkerset.x-k8s.io", version: "v1", resource: "leaderworkersets", kind: "LeaderWorkerSet",
            scale: .init(
                specReplicasPath: "spec.replicas", statusReplicasPath: "status.replicas",
                labelSelectorPath: "status.hpaPodSelector", defaultReplicas: nil)))
    do {
        try await body(TestCluster(server: server))
    } catch {
        try await server.stop()
        throw error
    }
    try await server.stop()
}

func deployment(_ name: String, replicas: Int) throws -> DynamicObject {
    try DynamicObject(
        .object([
            "apiVersion": .string("apps/v1"), "kind": .string("Deployment"),
            "metadata": .object(["name": .string(name)]),
            "spec": .object([
                "replicas": .number(Double(replicas)),
                "selector": .object(["matchLabels": .object(["app": .string(name)])]),
                "template": .object([
                    "metadata": .object(["labels": .object(["app": .string(name)])]),
                    "spec": .object([
                        "containers": .array([
                            .object(["name": .string("server"), "image": .string("vllm/vllm-openai")])
                        ])
                    ]),
                ]),
            ]),
        ]))
}

func pod(_ name: String, labels: [String: String]) throws -> DynamicObject {
    try DynamicObject(
        .object([
            "apiVersion": .string("v1"), "kind": .string("Pod"),
            "metadata": .object(["name": .string(name), "labels": .object(labels.mapValues { .string($0) })]),
            "spec": .object(["containers": .array([.object(["name": .string("c"), "image": .string("busybox")])])]),
        ]))
}
