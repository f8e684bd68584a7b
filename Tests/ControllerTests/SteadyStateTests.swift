import AutoscalerCore
import Foundation
import KubernetesClient
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
    @Test func aSteadyStateWritesNothingToTheAPIServer() async throws {
        let rig = try await Rig(waiting: 15)
        do {
            try rig.apply(
                #"{"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy","metadata":{"name":"llama","namespace":"inference"},"spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"minReplicas":1,"maxReplicas":6,"pollingInterval":"1s","signals":[{"type":"QueueDepth","target":5}],"disruptionBudget":{"maxUnavailable":1}}}"#
            )
            try await Self.eventually("scale up") { rig.replicas == 6 }
            try await Self.eventually("the budget") { rig.budget != nil }
            try await Task.sleep(for: .seconds(2))
            rig.server.clearRequests()
            try await Task.sleep(for: .seconds(5))
            let writes = rig.server.requests.filter { ["POST", "PUT", "PATCH", "DELETE"].contains($0.method) }
            #expect(writes.isEmpty, "\(writes.map { "\($0.method) \($0.path)" })")
            // It still polls: the target is read every round.
            #expect(rig.server.requests.filter { $0.path.hasSuffix("/scale") }.count >= 3)
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }
}
