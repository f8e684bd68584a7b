import AutoscalerCore
import Foundation
import KubernetesClient
import KubernetesModel
import KubernetesTestServer
import Logging
import MetricsFixture
import PrometheusTestSupport
import Signals
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

    /// A Deployment `vllm` with two ready pods that export `waiting` each, Prometheus, and a running controller.
    final class Rig: @unchecked Sendable {
        let server: TestAPIServer
        let exporter: FixtureExporter
        var prometheus: PrometheusServer
        let running: Task<Void, any Error>
        let controller: ControllerService

        init(
            waiting: Double, metrics: ControllerMetrics? = nil, credentials: Credentials? = nil,
            leaderElect: Bool = false, kedaDiscoveryInterval: Duration = .seconds(60),
            watching namespaces: [String] = ["inference"],
            prepare: (TestAPIServer) throws -> Void = { _ in }
        ) async throws {
            server = try await TestAPIServer.start(.init(initialNamespaces: ["default", "inference", "other"]))
            exporter = try await FixtureExporter.start()
            prometheus = try await PrometheusServer.start(scraping: [exporter.address])
            let deployment = try server.create(
                ControllerIntegrationTests.object(
                    #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"vllm","namespace":"inference"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"vllm"}},"template":{"metadata":{"labels":{"app":"vllm"}},"spec":{"containers":[{"name":"vllm","image":"vllm/vllm-openai"}]}}}}"#
                ),
                resource: .deployments)
            // What the Deployment controller would report for the two pods below.
            try server.update(
                deployment.setting(.object(["replicas": .number(2), "readyReplicas": .number(2)]), at: ["status"]),
                resource: .deployments, subresource: "status")
            for index in 0..<2 {
                let created = try server.create(
                    ControllerIntegrationTests.object(
                        #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"vllm-\#(index)","namespace":"inference","labels":{"app":"vllm"}},"spec":{"containers":[{"name":"vllm","image":"x"}]}}"#
                    ),
                    resource: .pods)
                let ready = created.setting(
                    try ControllerIntegrationTests.object(
                        #"{"phase":"Running","conditions":[{"type":"Ready","status":"True","lastTransitionTime":"\#(Timestamp.format(Date()))"}]}"#
                    ),
                    at: "status")
                try server.update(ready, resource: .pods, subresource: "status")
                exporter.set(PodMetrics(namespace: "inference", pod: "vllm-\(index)", engine: .vllm, waiting: waiting))
            }
            try await prometheus.waitForSeries("vllm:num_requests_waiting")
            try prepare(server)
            let configuration = ClusterConfiguration(
                server: server.url, tls: TLSSettings(caCertificatePEM: Data(server.caCertificatePEM.utf8)),
                credentials: credentials ?? .token(StaticToken("test-token")), namespace: "inference", source: "test")
            let client = KubernetesAPIClient(
                configuration: configuration,
                options: .init(observer: { metrics?.kubernetesRequest(verb: $0, code: $1, seconds: $2) }))
            let caches = ControllerCaches(
                client: client, namespaces: namespaces, kedaDiscoveryInterval: kedaDiscoveryInterval,
                logger: Logger(label: "test"))
            let elector =
                leaderElect
                ? LeaderElector(
                    client: client,
                    configuration: .init(
                        namespace: "inference", name: "inference-autoscaler-leader", identity: "test",
                        leaseDuration: 3, renewDeadline: 2, retryPeriod: 0.5),
                    clock: ContinuousClock(), logger: Logger(label: "test")) : nil
            let controller = ControllerService(
                caches: caches,
                cluster: LiveClusterAPI(
                    client: client, caches: caches, instance: "test", gate: elector ?? AlwaysWrite()),
                signals: PrometheusSignalSource(
                    defaultAddress: prometheus.url, observer: { metrics?.prometheusQuery(succeeded: $0, seconds: $1) }),
                // Values refresh status every minute here (three in production), so a test can see one.
                configuration: .init(maxConcurrentReconciles: 2, valueRefresh: 60), leadership: elector,
                metrics: metrics ?? ControllerMetrics())
            self.controller = controller
            running = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    if let elector { group.addTask { try await elector.run() } }
                    group.addTask { try await controller.run() }
                    try await group.waitForAll()
                }
            }
        }

        func apply(_ policy: String) throws {
            try server.create(ControllerIntegrationTests.object(policy), resource: .inferenceAutoscalePolicies)
        }

        func replicas(of deployment: String) -> Int? {
            if case .number(let value)? = server.object(
                resource: .deployments, namespace: "inference", name: deployment)?["spec"]?["replicas"]
            {
                return Int(value)
            }
            return nil
        }

        var replicas: Int? {
            if case .number(let value)? = server.object(resource: .deployments, namespace: "inference", name: "vllm")?[
                "spec"]?["replicas"]
            {
                return Int(value)
            }
            return nil
        }

        func status(_ name: String) -> JSONValue? {
            server.object(resource: .inferenceAutoscalePolicies, namespace: "inference", name: name)?["status"]
        }

        var eventReasons: [String] {
            server.objects(resource: .events, namespace: "inference").compactMap {
                if case .string(let reason)? = $0["reason"] { return reason }
                return nil
            }
        }

        var budget: JSONValue? { server.object(resource: .podDisruptionBudgets, namespace: "inference", name: "llama") }

        func stop() async throws {
            running.cancel()
            prometheus.stop()
            try await exporter.stop()
            try await server.stop()
        }
    }

    @Test func loadScalesUpAndDownAndThePDBFollows() async throws {
        let rig = try await Rig(waiting: 15)
        do {
            try rig.apply(
                #"{"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy","metadata":{"name":"llama","namespace":"inference"},"spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"minReplicas":1,"maxReplicas":8,"pollingInterval":"1s","signals":[{"type":"QueueDepth","target":5}],"behavior":{"scaleDown":{"stabilizationWindow":"0s","policies":[{"type":"Pods","value":10,"period":"1s"}]}},"startup":{"expectedDuration":"1s"},"disruptionBudget":{"maxUnavailable":1}}}"#
            )
            try rig.apply(
                #"{"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy","metadata":{"name":"broken","namespace":"inference"},"spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"minReplicas":4,"maxReplicas":2}}"#
            )

            // 30 waiting on 2 ready replicas, target 5 each: 6 replicas (one step allows 4 pods or 100 %).
            try await Self.eventually("scale up to 6") { rig.replicas == 6 }
            try await Self.eventually("status of the scale-up") {
                rig.status("llama")?["desiredReplicas"] == .number(6)
            }
            #expect(rig.status("llama")?["limitedBy"] == .string("QueueDepth"))
            #expect(rig.budget?["spec"]?["maxUnavailable"] == .number(1))
            #expect(rig.budget?["spec"]?["selector"]?["matchLabels"]?["app"] == .string("vllm"))
            #expect(rig.budget?["metadata"]?["ownerReferences"] != nil)
            let events = rig.server.objects(resource: .events, namespace: "inference")
            #expect(
                events.contains { $0["reason"] == .string("ScaledUp") && $0["regarding"]?["name"] == .string("llama") })

            // The invalid policy is reported, and scaled nothing.
            try await Self.eventually("the invalid policy's condition") {
                if case .array(let conditions)? = rig.status("broken")?["conditions"] {
                    return conditions.contains {
                        $0["type"] == .string("Ready") && $0["reason"] == .string("InvalidSpec")
                    }
                }
                return false
            }
            try await Self.eventually("the InvalidSpec event") { rig.eventReasons.contains("InvalidSpec") }

            // The budget follows a spec change.
            var policy = try #require(
                rig.server.object(resource: .inferenceAutoscalePolicies, namespace: "inference", name: "llama"))
            policy = policy.setting(.object(["minAvailable": .number(2)]), at: ["spec", "disruptionBudget"])
            try rig.server.update(policy, resource: .inferenceAutoscalePolicies)
            try await Self.eventually("the budget updated") { rig.budget?["spec"]?["minAvailable"] == .number(2) }

            // Load stops: down to minReplicas (the pods that never appeared are not capacity in flight after 2 s).
            for index in 0..<2 { rig.exporter.update(namespace: "inference", pod: "vllm-\(index)") { $0.waiting = 0 } }
            try await Self.eventually("scale down to 1") { rig.replicas == 1 }
            try await Self.eventually("the ScaledDown event") { rig.eventReasons.contains("ScaledDown") }

            // Removing the field removes the budget.
            policy = try #require(
                rig.server.object(resource: .inferenceAutoscalePolicies, namespace: "inference", name: "llama"))
            try rig.server.update(
                policy.setting(nil, at: ["spec", "disruptionBudget"]), resource: .inferenceAutoscalePolicies)
            try await Self.eventually("the budget removed with the field") { rig.budget == nil }
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }
}

extension ControllerIntegrationTests {
    @Test func scaleDownWaitsForItsWindowAndStepsOnePodPerPeriod() async throws {
        let rig = try await Rig(waiting: 25)
        do {
            try rig.apply(
                #"{"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy","metadata":{"name":"llama","namespace":"inference"},"spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"maxReplicas":8,"pollingInterval":"1s","behavior":{"scaleDown":{"stabilizationWindow":"4s","policies":[{"type":"Pods","value":1,"period":"2s"}]}},"startup":{"expectedDuration":"1s"}}}"#
            )
            // 50 waiting on 2 ready: 10, capped at 8 after two steps (4, then 8).
            try await Self.eventually("scale up to 8") { rig.replicas == 8 }
            for index in 0..<2 { rig.exporter.update(namespace: "inference", pod: "vllm-\(index)") { $0.waiting = 0 } }
            let dropped = Date()
            var seen: [Int] = []
            try await Self.eventually("scale down to 1", within: 90) {
                if let replicas = rig.replicas, seen.last != replicas { seen.append(replicas) }
                return rig.replicas == 1
            }
            // Held for the window, then one pod per period: every step is 1.
            #expect(Date().timeIntervalSince(dropped) >= 4 + 2 * 6 - 1, "\(seen)")
            #expect(zip(seen, seen.dropFirst()).allSatisfy { $0 - $1 == 1 }, "\(seen)")
            #expect(rig.status("llama")?["limitedBy"] != nil)
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }

    @Test func scaleToZeroBackFromZeroAndFallbackWhenPrometheusStopsThenRecovery() async throws {
        let rig = try await Rig(waiting: 0)
        do {
            try rig.apply(
                #"{"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy","metadata":{"name":"llama","namespace":"inference"},"spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"minReplicas":0,"maxReplicas":8,"pollingInterval":"1s","signals":[{"type":"Custom","query":"sum(vllm:num_requests_waiting{namespace=\"inference\"})","target":5,"targetType":"Value"}],"scaleToZero":{"idleFor":"3s"},"behavior":{"scaleDown":{"stabilizationWindow":"0s","policies":[{"type":"Pods","value":10,"period":"1s"}]}},"startup":{"expectedDuration":"1s"},"fallback":{"replicas":3,"afterFailures":2},"disruptionBudget":{"minAvailable":1}}}"#
            )
            // Idle: first one replica (the idle timer runs), then zero; the budget exists until then.
            try await Self.eventually("scale down to 1") { rig.replicas == 1 }
            #expect(rig.budget != nil)
            try await Self.eventually("scale to zero") { rig.replicas == 0 }
            try await Self.eventually("the budget removed at zero") { rig.budget == nil }
            try await Self.eventually("the ScaledToZero event") { rig.eventReasons.contains("ScaledToZero") }

            // Demand at the gateway brings it back.
            rig.exporter.update(namespace: "inference", pod: "vllm-0") { $0.waiting = 3 }
            try await Self.eventually("activated from zero") { (rig.replicas ?? 0) >= 1 }
            try await Self.eventually("the ActivatedFromZero event") { rig.eventReasons.contains("ActivatedFromZero") }
            try await Self.eventually("the budget back") { rig.budget != nil }

            // Prometheus stops: the count holds, then the fallback (3) applies.
            let before = rig.replicas ?? 0
            rig.prometheus.stop()
            try await Task.sleep(for: .milliseconds(800))
            #expect((rig.replicas ?? 0) >= before)
            try await Self.eventually("fallback") { rig.replicas == 3 }
            try await Self.eventually("the FallbackActivated event") { rig.eventReasons.contains("FallbackActivated") }
            try await Self.eventually("the MetricsUnavailable event") {
                rig.eventReasons.contains("MetricsUnavailable")
            }

            // Prometheus is back where it was: the signals decide again.
            rig.prometheus = try await PrometheusServer.start(
                scraping: [rig.exporter.address], port: rig.prometheus.url.port)
            try await rig.prometheus.waitForSeries("vllm:num_requests_waiting")
            try await Self.eventually("the FallbackDeactivated event") {
                rig.eventReasons.contains("FallbackDeactivated")
            }
            try await Self.eventually("metrics available again") {
                if case .array(let conditions)? = rig.status("llama")?["conditions"] {
                    return conditions.contains {
                        $0["type"] == .string("MetricsAvailable") && $0["status"] == .string("True")
                    }
                }
                return false
            }
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }
}

extension ControllerIntegrationTests {
    static var kubectl: String? {
        ["/usr/bin/kubectl", "/usr/local/bin/kubectl"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `kubectl get iap` shows the printer columns (the test server serves the Table format as the API server does).
    @Test(.enabled(if: kubectl != nil, "kubectl is not installed")) func kubectlGetShowsThePrinterColumns() async throws
    {
        let rig = try await Rig(waiting: 15)
        do {
            try rig.apply(
                #"{"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy","metadata":{"name":"llama3-8b","namespace":"inference"},"spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"minReplicas":1,"maxReplicas":8,"pollingInterval":"1s","mode":"Active","signals":[{"type":"QueueDepth","target":5}]}}"#
            )
            // (The API server fills in `mode: Active` from the CRD's default; the test server keeps what is sent.)
            try await Self.eventually("scale up") { rig.replicas == 6 }
            try await Self.eventually("status") { rig.status("llama3-8b")?["desiredReplicas"] == .number(6) }
            let kubeconfig = FileManager.default.temporaryDirectory.appendingPathComponent(
                "kubeconfig-\(UUID().uuidString)")
            try rig.server.kubeconfig(token: "test-token", namespace: "inference").write(
                to: kubeconfig, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: kubeconfig) }
            let output = try runProcess(
                Self.kubectl!, ["--kubeconfig", kubeconfig.path, "get", "iap", "-n", "inference"])
            let lines = output.split(separator: "\n").map {
                $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            }
            #expect(
                lines.first == [
                    "NAME", "TARGET", "MIN", "MAX", "REPLICAS", "DESIRED", "MODE", "LIMITED-BY", "READY", "AGE",
                ], "\(output)")
            #expect(
                Array(lines.dropFirst().first?.prefix(9) ?? []) == [
                    "llama3-8b", "vllm", "1", "8", "2", "6", "Active", "QueueDepth", "True",
                ], "\(output)")
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }
}
