import AutoscalerCore
import Foundation
import KubernetesModel
import Testing

@testable import Controller

/// The pure planner: what was read and `now` in, the list of actions out.
@Suite struct ReconcilePlannerTests {
    static let fastDown =
        #""behavior": {"scaleDown": {"stabilizationWindow": "0s", "policies": [{"type": "Percent", "value": 100, "period": "15s"}]}}"#

    /// A decision on `replicas` ready pods of `vllm`, then its plan.
    static func planned(
        _ spec: String, replicas: Int, samples: [SignalSample], status: PolicyStatus? = nil,
        lastWrite: Date = .distantPast, at seconds: Double = 0
    ) throws -> (plan: ReconcilePlan, decision: ScalingDecision, policy: InferenceAutoscalePolicy) {
        let policy = try policy(spec, status: status)
        let resolved = try ReconcilePlanner.admit(policy, permissions: .init()).get()
        let pods = (0..<replicas).map {
            PodInfo(name: "vllm-\($0)", labels: ["app": "vllm"], createdAt: t0.addingTimeInterval(-3600), ready: true)
        }
        let observation = ReconcilePlanner.Observation(
            scale: Scale(
                apiVersion: "autoscaling/v1", kind: "Scale", metadata: ObjectMeta(name: "vllm"),
                spec: .init(replicas: replicas), status: .init(replicas: replicas, selector: "app=vllm")),
            selector: try LabelSelector(parsing: "app=vllm"), pods: pods)
        let now = t0.addingTimeInterval(seconds)
        let decision = ScalingDecider.decide(
            policy: resolved, observed: observation.observedScale, samples: samples,
            history: ReconcilePlanner.history(for: policy, resolved: resolved, remembered: nil), now: now)
        let plan = ReconcilePlanner.plan(
            decision, policy: policy, resolved: resolved, observation: observation, lastStatusWrite: lastWrite, now: now
        )
        return (plan, decision, policy)
    }

    /// The actions with statuses and manifests reduced to their kind, for comparing the order.
    static func kinds(_ actions: [ReconcileAction]) -> [String] {
        actions.map { action in
            switch action {
            case .markDeletionCosts(let pods): "markDeletionCosts \(pods.joined(separator: ","))"
            case .patchScale(let replicas): "patchScale \(replicas)"
            case .applyDisruptionBudget: "applyDisruptionBudget"
            case .deleteDisruptionBudget: "deleteDisruptionBudget"
            case .recordEvent(let event): "event \(event.reason)"
            case .updateStatus: "updateStatus"
            }
        }
    }

    static func status(of plan: ReconcilePlan) -> PolicyStatus? {
        for case .updateStatus(let status) in plan.actions { return status }
        return nil
    }

    @Test func aScaleUpPatchesAnnouncesAndWritesStatus() throws {
        let (plan, decision, _) = try Self.planned(#""maxReplicas": 10"#, replicas: 2, samples: [.value(15)])
        #expect(Self.kinds(plan.actions) == ["patchScale 6", "event ScaledUp", "updateStatus"])
        #expect(plan.result == .requeue(after: 15))
        #expect(plan.reason == .reconciled)
        #expect(plan.history == decision.history)
        let status = try #require(Self.status(of: plan))
        #expect(status.desiredReplicas == 6)
        #expect(status.lastScaleTime == Timestamp.format(t0))
        #expect(status.conditions?.first { $0.type == "Ready" }?.reason == "Reconciled")
    }

    @Test func aScaleDownMarksTheCheapestPodsFirst() throws {
        let (plan, _, _) = try Self.planned(
            #""maxReplicas": 10, \#(Self.fastDown)"#, replicas: 3, samples: [.value(0)])
        #expect(
            Self.kinds(plan.actions) == [
                "markDeletionCosts vllm-0,vllm-1,vllm-2", "patchScale 1", "event ScaledDown", "updateStatus",
            ])
    }

    @Test func aBudgetFollowsTheReplicasAndGoesWhenTheSpecDropsIt() throws {
        let withBudget = #""maxReplicas": 10, "disruptionBudget": {"maxUnavailable": 1}"#
        let (plan, _, policy) = try Self.planned(withBudget, replicas: 2, samples: [.value(15)])
        #expect(
            Self.kinds(plan.actions) == ["patchScale 6", "event ScaledUp", "applyDisruptionBudget", "updateStatus"])
        let resolved = try ReconcilePlanner.admit(policy, permissions: .init()).get()
        let manifest = DisruptionBudgetManifest.make(
            for: policy, budget: try #require(resolved.disruptionBudget),
            selector: try LabelSelector(parsing: "app=vllm"))
        #expect(plan.actions.contains(.applyDisruptionBudget(manifest)))
        let status = try #require(Self.status(of: plan))
        #expect(status.conditions?.first { $0.type == "DisruptionBudget" }?.reason == "DisruptionsAllowed")

        // The spec no longer asks for one: the budget is deleted and its condition dropped.
        let (after, _, _) = try Self.planned(#""maxReplicas": 10"#, replicas: 6, samples: [.value(30)], status: status)
        #expect(Self.kinds(after.actions) == ["deleteDisruptionBudget", "updateStatus"])
        #expect(Self.status(of: after)?.conditions?.contains { $0.type == "DisruptionBudget" } == false)
    }

    @Test func aSteadyStateWritesNothing() throws {
        let spec = #""maxReplicas": 10"#
        let (first, _, _) = try Self.planned(spec, replicas: 6, samples: [.value(5)])
        let written = try #require(Self.status(of: first))
        #expect(Self.kinds(first.actions) == ["updateStatus"])

        let (same, _, _) = try Self.planned(
            spec, replicas: 6, samples: [.value(5)], status: written, lastWrite: t0, at: 15)
        #expect(same.actions == [])
        #expect(same.result == .requeue(after: 15))

        // The decision's memory moved only its timestamps: still nothing to write, however long since the last.
        let (much, _, _) = try Self.planned(
            spec, replicas: 6, samples: [.value(5)], status: written, lastWrite: t0, at: 600)
        #expect(much.actions == [])
    }

    @Test func lostMetricsAreAnnouncedOnce() throws {
        let spec = #""maxReplicas": 10"#
        let (plan, _, _) = try Self.planned(spec, replicas: 2, samples: [.missing("connection refused")])
        #expect(Self.kinds(plan.actions) == ["event MetricsUnavailable", "updateStatus"])
        let status = try #require(Self.status(of: plan))
        let (again, _, _) = try Self.planned(
            spec, replicas: 2, samples: [.missing("connection refused")], status: status, lastWrite: t0, at: 15)
        #expect(!Self.kinds(again.actions).contains("event MetricsUnavailable"))
    }

    @Test func aHoldIsAnnouncedAndWrittenOnlyWhenItIsNews() throws {
        let hold = ReconcilePlanner.Hold(.targetNotFound, "Deployment inference/vllm: not found", pollingInterval: 15)
        let first = ReconcilePlanner.hold(hold, policy: try policy(#""maxReplicas": 10"#), now: t0)
        let status = try #require(Self.status(of: first))
        #expect(
            first.actions == [
                .recordEvent(PolicyEvent(.warning, "TargetNotFound", hold.message)), .updateStatus(status),
            ])
        #expect(first.result == .retry(reason: "target not found", within: 15))
        #expect(first.history == nil)
        let ready = try #require(status.conditions?.first { $0.type == "Ready" })
        #expect(ready.status == .false)
        #expect(ready.lastTransitionTime == Timestamp.format(t0))

        let again = ReconcilePlanner.hold(
            hold, policy: try policy(#""maxReplicas": 10"#, status: status), now: t0.addingTimeInterval(30))
        #expect(again.actions == [])
    }

    @Test func admissionHoldsInvalidPausedAndDisallowedPolicies() throws {
        func reason(_ policy: InferenceAutoscalePolicy, allowed: Set<String> = ["*"]) -> ReconcileReason? {
            if case .failure(let error) = ReconcilePlanner.admit(
                policy, permissions: .init(customQueryNamespaces: allowed))
            {
                return error.reason
            }
            return nil
        }
        #expect(reason(try policy(#""maxReplicas": 0"#)) == .invalidSpec)
        #expect(reason(try policy(#""maxReplicas": 4, "paused": true"#)) == .paused)
        var annotated = try policy(#""maxReplicas": 4"#)
        annotated.metadata.annotations = [ReconcilePlanner.pausedAnnotation: "true"]
        #expect(reason(annotated) == .paused)
        let custom = try policy(
            #""maxReplicas": 4, "signals": [{"type": "Custom", "query": "up{namespace=\"inference\"}", "target": 1}]"#)
        #expect(reason(custom, allowed: ["ml"]) == .customQueryNotAllowed)
        #expect(reason(custom, allowed: ["inference"]) == nil)
        #expect(reason(try policy(#""maxReplicas": 4"#)) == nil)
    }

    @Test(arguments: ReconcileReason.allCases)
    func eachReasonMapsToOneQueueResult(_ reason: ReconcileReason) {
        let result = reason.result(pollingInterval: 30)
        switch reason.classification {
        case .healthy, .held: #expect(result == .requeue(after: 30))
        case .retryable: #expect(result == .retry(reason: reason.summary, within: 30))
        case .terminal: #expect(result == .waitForChange)
        }
        #expect(reason.eventKind == (reason == .paused ? .normal : .warning))
    }

    @Test func theRememberedHistoryWinsOnlyWhileStatusAgreesWithIt() {
        let persisted = DecisionHistory(recommendations: [.init(time: t0, replicas: 3)])
        let exact = DecisionHistory(recommendations: [.init(time: t0.addingTimeInterval(14), replicas: 3)])
        #expect(ReconcilePlanner.history(persisted: persisted, remembered: exact) == exact)
        let other = DecisionHistory(recommendations: [.init(time: t0, replicas: 5)])
        #expect(ReconcilePlanner.history(persisted: persisted, remembered: other) == persisted)
        #expect(ReconcilePlanner.history(persisted: nil, remembered: nil) == DecisionHistory())
    }
}

/// Shadow mode's plan: the same decision, no write to the target, and the counterfactual.
@Suite struct ShadowPlanTests {
    @Test func aShadowPlansOnlyAWouldEventAndStatus() throws {
        let (plan, decision, _) = try ReconcilePlannerTests.planned(
            #""maxReplicas": 10, "mode": "Shadow", "disruptionBudget": {"maxUnavailable": 1}"#, replicas: 2,
            samples: [.value(15)])
        #expect(decision.desiredReplicas == 6)
        #expect(ReconcilePlannerTests.kinds(plan.actions) == ["event WouldScaleUp", "updateStatus"])
        let status = try #require(ReconcilePlannerTests.status(of: plan))
        #expect(status.shadow != nil)
        #expect(status.conditions?.contains { $0.type == "Shadow" } == true)
        #expect(status.conditions?.contains { $0.type == "DisruptionBudget" } != true)
        // Back to Active: the shadow's status and condition go, and the workload is scaled.
        let (active, _, _) = try ReconcilePlannerTests.planned(
            #""maxReplicas": 10"#, replicas: 2, samples: [.value(15)], status: status)
        #expect(ReconcilePlannerTests.kinds(active.actions) == ["patchScale 6", "event ScaledUp", "updateStatus"])
        let after = try #require(ReconcilePlannerTests.status(of: active))
        #expect(after.shadow == nil)
        #expect(after.conditions?.contains { $0.type == "Shadow" } == false)
    }

    @Test func theCountersIntegrateBothFleetsAndSkipGaps() {
        let start = ReconcilePlanner.advanceShadow(
            nil, generation: 1, replicas: 6, liveReplicas: 2, liveDesired: 2, pollingInterval: 15, now: t0)
        #expect(start.observedSeconds == 0)
        var shadow = ReconcilePlanner.advanceShadow(
            start, generation: 1, replicas: 6, liveReplicas: 2, liveDesired: 2, pollingInterval: 15,
            now: t0.addingTimeInterval(15))
        #expect(shadow.observedSeconds == 15)
        #expect(shadow.replicaSeconds == 90)
        #expect(shadow.liveReplicaSeconds == 30)
        #expect(shadow.belowLiveSeconds == 0)
        // Below the live scaler's count (4 asked, 3 exist yet).
        shadow = ReconcilePlanner.advanceShadow(
            shadow, generation: 1, replicas: 1, liveReplicas: 3, liveDesired: 4, pollingInterval: 15,
            now: t0.addingTimeInterval(30))
        #expect(shadow.belowLiveSeconds == 15)
        #expect(shadow.liveReplicaSeconds == 75)
        // A restart of ten minutes is a gap, not ten minutes at the last counts.
        let gap = ReconcilePlanner.advanceShadow(
            shadow, generation: 1, replicas: 1, liveReplicas: 3, liveDesired: 4, pollingInterval: 15,
            now: t0.addingTimeInterval(630))
        #expect(gap.observedSeconds == shadow.observedSeconds)
        #expect(gap.lastObserved == Timestamp.format(t0.addingTimeInterval(630)))
        // A new spec starts over.
        let restarted = ReconcilePlanner.advanceShadow(
            gap, generation: 2, replicas: 1, liveReplicas: 3, liveDesired: 4, pollingInterval: 15,
            now: t0.addingTimeInterval(645))
        #expect(restarted.observedSeconds == 0)
        #expect(restarted.since == Timestamp.format(t0.addingTimeInterval(645)))
    }

    @Test func anUnknownModeIsAnInvalidSpec() throws {
        let policy = try policy(#""maxReplicas": 10, "mode": "DryRun""#)
        guard case .failure(let hold) = ReconcilePlanner.admit(policy, permissions: .init()) else {
            Issue.record("admitted")
            return
        }
        #expect(hold.message.contains("spec.mode: must be Active or Shadow"))
    }
}
