import Foundation
import KubernetesClient
import KubernetesModel
import KubernetesTestServer
import Testing

@testable import Controller

@Suite struct PollSpreadTests {
    @Test func policiesWithOneIntervalAreSpreadOverIt() {
        let now = Date(timeIntervalSince1970: 1_800_000_000.25)
        let interval = 15.0
        var tenths = [Int](repeating: 0, count: 10)
        for index in 0..<2000 {
            let delay = ControllerService.delay(for: "ns-\(index % 7)/policy-\(index)", interval: interval, now: now)
            #expect(delay >= interval / 2 && delay < interval * 1.5)
            let due = (now.timeIntervalSince1970 + delay).truncatingRemainder(dividingBy: interval)
            tenths[Int(due / interval * 10)] += 1
        }
        // Uniform would be 200 in each tenth.
        #expect(tenths.allSatisfy { (140...260).contains($0) }, "\(tenths)")
    }

    @Test func afterTheFirstPollAPolicyKeepsItsInterval() {
        let interval = 10.0
        var now = Date(timeIntervalSince1970: 1_800_000_003)
        now += ControllerService.delay(for: "inference/llama", interval: interval, now: now)
        for _ in 0..<5 {
            let reconcile = 0.2
            let delay = ControllerService.delay(for: "inference/llama", interval: interval, now: now + reconcile)
            #expect(abs(delay + reconcile - interval) < 1e-6)
            now += reconcile + delay
        }
    }
}

extension ControllerIntegrationTests {
    @Test func aSteadyStateWritesNothingAndReadsTheTargetFromTheCache() async throws {
        let metrics = ControllerMetrics()
        let rig = try await Rig(waiting: 15, metrics: metrics)
        do {
            try rig.apply(
                #"{"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy","metadata":{"name":"llama","namespace":"inference"},"spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"minReplicas":1,"maxReplicas":6,"pollingInterval":"1s","signals":[{"type":"QueueDepth","target":5}],"disruptionBudget":{"maxUnavailable":1}}}"#
            )
            try await Self.eventually("scale up") { rig.replicas == 6 }
            try await Self.eventually("the budget") { rig.budget != nil }
            try await Task.sleep(for: .seconds(2))
            rig.server.clearRequests()
            func reconciles() -> Int {
                metrics.text().split(separator: "\n").filter { $0.hasPrefix("inference_autoscaler_reconciles_total") }
                    .compactMap { Int(Double($0.split(separator: " ").last ?? "") ?? -1) }.reduce(0, +)
            }
            let before = reconciles()
            // It still polls (every second): counted in rounds, not seconds, so a starved machine only waits longer.
            try await Self.eventually("three more rounds") { reconciles() - before >= 3 }
            let requests = rig.server.requests.filter { !$0.isWatch }
            #expect(requests.isEmpty, "\(requests.map { "\($0.method) \($0.path)" })")
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }
}

@Suite struct CachedScaleTests {
    @Test func aWorkloadsScaleFromTheCacheReadsAsTheAPIServersWould() throws {
        let object = try DynamicObject(
            JSONDecoder().decode(
                JSONValue.self,
                from: Data(
                    #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"vllm","namespace":"ml"},"spec":{"replicas":3,"selector":{"matchLabels":{"tier":"gpu","app":"vllm"},"matchExpressions":[{"key":"zone","operator":"In","values":["b","a"]},{"key":"canary","operator":"DoesNotExist"}]}},"status":{"replicas":2}}"#
                        .utf8)))
        let scale = LiveClusterAPI.scale(of: object)
        #expect(scale.spec?.replicas == 3)
        #expect(scale.status?.replicas == 2)
        #expect(scale.status?.selector == "app=vllm,!canary,tier=gpu,zone in (a,b)")
        let parsed = try LabelSelector(parsing: scale.status?.selector ?? "")
        #expect(parsed.matches(["app": "vllm", "tier": "gpu", "zone": "a"]))
        #expect(!parsed.matches(["app": "vllm", "tier": "gpu", "zone": "a", "canary": "1"]))
    }
}
