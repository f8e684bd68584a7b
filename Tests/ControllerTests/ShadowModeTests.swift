import Foundation
import KubernetesClient
import KubernetesModel
import KubernetesTestServer
import Testing

@testable import Controller

/// Shadow mode over real HTTP, next to the HPA that really scales the workload: status, metrics and Events say what
/// the policy would do, and the server's request log shows that nothing else was written.
extension ControllerIntegrationTests {
    static let shadowPolicy =
        #"{"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy","metadata":{"name":"llama-shadow","namespace":"inference"},"spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"minReplicas":1,"maxReplicas":8,"pollingInterval":"1s","mode":"Shadow","signals":[{"type":"QueueDepth","target":5}],"disruptionBudget":{"maxUnavailable":1}}}"#

    @Test func aShadowNextToALiveHPAReportsItsCounterfactualWithoutAWrite() async throws {
        let metrics = ControllerMetrics()
        let rig = try await Rig(waiting: 15, metrics: metrics) { server in
            try server.create(
                try Self.object(
                    #"{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"vllm-hpa","namespace":"inference"},"spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"minReplicas":1,"maxReplicas":4}}"#
                ),
                resource: .horizontalPodAutoscalers)
        }
        do {
            try rig.apply(Self.shadowPolicy)
            // 30 waiting on 2 ready, target 5: it would run 6 where the HPA keeps 2.
            try await Self.eventually("the shadow's decision") {
                rig.status("llama-shadow")?["desiredReplicas"] == .number(6)
            }
            // Counters alone reach status at the value refresh (a minute in this rig), like signal values, not every
            // poll.
            try await Self.eventually("a minute compared", within: 120) {
                rig.status("llama-shadow")?["shadow"]?["observedSeconds"].map { $0 != .number(0) } ?? false
            }
            #expect(readyReason(rig, "llama-shadow")?.reason == "Reconciled")
            #expect(rig.status("llama-shadow")?["currentReplicas"] == .number(2))
            let shadow = try #require(rig.status("llama-shadow")?["shadow"])
            guard case .number(let would)? = shadow["replicaSeconds"],
                case .number(let live)? = shadow["liveReplicaSeconds"],
                case .number(let seconds)? = shadow["observedSeconds"]
            else {
                Issue.record("no counters in \(shadow)")
                return
            }
            // At 6 against the workload's 2 (the first round at 2 may be in the window).
            #expect(seconds > 0)
            #expect(abs(live - 2 * seconds) < 0.01)
            #expect(would > live)
            #expect(shadow["belowLiveSeconds"] == .number(0))
            #expect(
                condition(rig, "llama-shadow", "Shadow")?["message"]?.stringValue?.contains("replica-hours") == true)
            try await Self.eventually("the WouldScaleUp event") { rig.eventReasons.contains("WouldScaleUp") }
            #expect(!rig.eventReasons.contains("ScaledUp"))
            #expect(!rig.eventReasons.contains("Conflict"))
            try await Self.eventually("the shadow's metrics") {
                metrics.text().contains(
                    #"inference_autoscaler_policy_shadow{namespace="inference",policy="llama-shadow"} 1"#)
                    && metrics.text().contains("inference_autoscaler_shadow_replica_seconds")
            }
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()

        #expect(rig.replicas == 2)
        #expect(rig.budget == nil)
        let writes = rig.server.requests.filter { !["GET", "HEAD"].contains($0.method) }
        let allowed = writes.filter {
            $0.path.hasSuffix("/inferenceautoscalepolicies/llama-shadow/status") || $0.path.contains("/events")
                || $0.path.hasSuffix("/inferenceautoscalepolicies")
        }
        #expect(writes.count == allowed.count, "writes other than status and events: \(writes.map(\.path))")
        #expect(writes.contains { $0.path.hasSuffix("/status") })
    }

    @Test func aShadowDoesNotHoldBackTheLivePolicyOfTheSameWorkload() async throws {
        let rig = try await Rig(waiting: 15)
        do {
            // The shadow is older; the live policy still scales, and the shadow says what it would do differently.
            try rig.apply(Self.shadowPolicy.replacingOccurrences(of: #""target":5"#, with: #""target":10"#))
            try await Task.sleep(for: .milliseconds(1100))
            try rig.apply(Self.llama)
            try await Self.eventually("the live policy scales") { rig.replicas == 6 }
            #expect(readyReason(rig, "llama")?.reason == "Reconciled")
            try await Self.eventually("the shadow's own count") {
                rig.status("llama-shadow")?["desiredReplicas"] != nil
                    && rig.status("llama-shadow")?["limitedBy"] != nil
            }
            #expect(readyReason(rig, "llama-shadow")?.reason == "Reconciled")
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }
}
