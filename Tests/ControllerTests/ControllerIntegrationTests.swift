import AutoscalerCore
import Foundation
import KubernetesClient
import KubernetesTestServer
import MetricsFixture
import PrometheusTestSupport
import Testing

@testable import Controller

/// The controller over real HTTP: the test API server, a real Prometheus scraping simulated vLLM pods, and the
/// controller's own caches, queue and workers.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ControllerIntegrationTests {
    static func object(_ json: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
    }

    /// Polls until `condition` holds (checked every 200 ms) or fails after `seconds`.
    static func eventually(
        _ what: String, within seconds: Double = 30, _ condition: () async throws -> Bool
    ) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("timed out waiting for \(what)")
        throw CancellationError()
    }

    @Test func loadScalesUpAndDownAndThePDBFollows() async throws {
        let server = try await TestAPIServer.start(.init(initialNamespaces: ["default", "inference"]))
        let exporter = try await FixtureExporter.start()
        let prometheus = try await PrometheusServer.start(scraping: [exporter.address])
        defer { prometheus.stop() }

        try server.create(
            Self.object(
                #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"vllm","namespace":"inference"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"vllm"}},"template":{"metadata":{"labels":{"app":"vllm"}},"spec":{"containers":[{"name":"vllm","image":"vllm/vllm-openai"}]}}},"status":{"replicas":2}}"#),
            resource: .deployments)
        for index in 0..<2 {
            let created = try server.create(
                Self.object(
                    #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"vllm-\#(index)","namespace":"inference","labels":{"app":"vllm"}},"spec":{"containers":[{"name":"vllm","image":"x"}]}}"#),
                resource: .pods)
            var ready = created
            if case .object(var members) = ready {
                members["status"] = try Self.object(
                    #"{"phase":"Running","conditions":[{"type":"Ready","status":"True","lastTransitionTime":"\#(Timestamp.format(Date()))"}]}"#)
                ready = .object(members)
            }
            try server.update(ready, resource: .pods, subresource: "status")
            exporter.set(PodMetrics(namespace: "inference", pod: "vllm-\(index)", engine: .vllm, waiting: 15))
        }
        try await prometheus.waitForSeries("vllm:num_requests_waiting")

        let configuration = ClusterConfiguration(
            server: server.url, tls: TLSSettings(caCertificatePEM: Data(server.caCertificatePEM.utf8)),
            credentials: .token(StaticToken("test-token")), namespace: "inference", source: "test")
        let client = KubernetesAPIClient(configuration: configuration)
        let controller = ControllerService(
            client: client, signals: PrometheusSignalSource(defaultAddress: prometheus.url),
            configuration: .init(namespaces: ["inference"], maxConcurrentReconciles: 2), instance: "test")
        let running = Task { try await controller.run() }
        defer { running.cancel() }

        try server.create(
            Self.object(
                #"{"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy","metadata":{"name":"llama","namespace":"inference"},"spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"minReplicas":1,"maxReplicas":8,"pollingInterval":"1s","signals":[{"type":"QueueDepth","target":5}],"behavior":{"scaleDown":{"stabilizationWindow":"0s","policies":[{"type":"Pods","value":10,"period":"1s"}]}},"startup":{"expectedDuration":"1s"},"disruptionBudget":{"maxUnavailable":1}}}"#),
            resource: .inferenceAutoscalePolicies)
        try server.create(
            Self.object(
                #"{"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy","metadata":{"name":"broken","namespace":"inference"},"spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"minReplicas":4,"maxReplicas":2}}"#),
            resource: .inferenceAutoscalePolicies)

        func replicas() -> Int? {
            if case .number(let value)? = server.object(resource: .deployments, namespace: "inference", name: "vllm")?["spec"]?["replicas"] {
                return Int(value)
            }
            return nil
        }
        func status(_ name: String) -> JSONValue? {
            server.object(resource: .inferenceAutoscalePolicies, namespace: "inference", name: name)?["status"]
        }

        // 30 waiting on 2 ready replicas, target 5 each: 6 replicas (one step allows 4 pods or 100 %).
        try await Self.eventually("scale up to 6") { replicas() == 6 }
        try await Self.eventually("status of the scale-up") { status("llama")?["desiredReplicas"] == .number(6) }
        #expect(status("llama")?["limitedBy"] == .string("QueueDepth"))
        let budget = server.object(resource: .podDisruptionBudgets, namespace: "inference", name: "llama")
        #expect(budget?["spec"]?["maxUnavailable"] == .number(1))
        #expect(budget?["spec"]?["selector"]?["matchLabels"]?["app"] == .string("vllm"))
        let events = server.objects(resource: .events, namespace: "inference")
        #expect(events.contains { $0["reason"] == .string("ScaledUp") && $0["regarding"]?["name"] == .string("llama") })

        // The invalid policy is reported, and scaled nothing.
        try await Self.eventually("the invalid policy's condition") {
            if case .array(let conditions)? = status("broken")?["conditions"] {
                return conditions.contains { $0["type"] == .string("Ready") && $0["reason"] == .string("InvalidSpec") }
            }
            return false
        }

        // Load stops: down to minReplicas (the pods that never appeared are not capacity in flight after 2 s).
        for index in 0..<2 { exporter.update(namespace: "inference", pod: "vllm-\(index)") { $0.waiting = 0 } }
        try await Self.eventually("scale down to 1") { replicas() == 1 }
        #expect(server.objects(resource: .events, namespace: "inference").contains { $0["reason"] == .string("ScaledDown") })

        running.cancel()
        try await exporter.stop()
        try await server.stop()
    }
}
