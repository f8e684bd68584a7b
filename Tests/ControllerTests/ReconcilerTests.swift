import AutoscalerCore
import Foundation
import KubernetesClient
import KubernetesModel
import Testing

@testable import Controller

/// The reconciler against a recording fake: policy + cluster state + signal values → the API actions.
@Suite struct ReconcilerTests {
    /// Runs rounds, feeding each written status back as the policy's status (as the API server would).
    final class Loop {
        let cluster: FakeCluster
        let signals: FakeSignals
        let reconciler: PolicyReconciler
        var policy: InferenceAutoscalePolicy

        init(_ policy: InferenceAutoscalePolicy, cluster: FakeCluster, samples: [SignalSample]) {
            self.cluster = cluster
            self.signals = FakeSignals(samples)
            self.reconciler = PolicyReconciler(cluster: cluster, signals: signals)
            self.policy = policy
        }

        @discardableResult
        func round(at seconds: Double) async -> ReconcileResult {
            let result = await reconciler.reconcile(policy, now: t0.addingTimeInterval(seconds))
            if let status = cluster.lastStatus { policy.status = status }
            return result
        }
    }

    @Test func aQueueScalesUpAndWritesStatusAndAnEvent() async throws {
        let cluster = FakeCluster(replicas: 2)
        let loop = Loop(try policy(#""maxReplicas": 10"#), cluster: cluster, samples: [.value(15)])
        let result = await loop.round(at: 0)
        #expect(result == .requeue(after: 15))
        // ceil(2 × 15 / 5) = 6, within one step (4 pods or 100 %).
        #expect(cluster.actions == [.setScale(6), .event("ScaledUp"), .updateStatus])
        let status = try #require(cluster.lastStatus)
        #expect(status.desiredReplicas == 6)
        #expect(status.limitedBy == "QueueDepth")
        #expect(status.signals?.first?.value == 15)
        #expect(status.conditions?.first { $0.type == "Ready" }?.status == .true)
        #expect(status.history?.scaleEvents.count == 1)
        #expect(status.observedGeneration == 1)
    }

    @Test func thePodsGPUsReachTheSignalSource() async throws {
        let cluster = FakeCluster(replicas: 2)
        cluster.state.withLock { $0.pods[1].gpus = 4 }
        let loop = Loop(try policy(#""maxReplicas": 10"#), cluster: cluster, samples: [.value(5)])
        await loop.round(at: 0)
        // A pod without GPUs is absent: nothing of it should report.
        #expect(loop.signals.lastGPUs.withLock { $0 } == ["vllm-1": 4])
    }

    @Test func aSteadyStateWritesNothing() async throws {
        let cluster = FakeCluster(replicas: 2)
        let loop = Loop(try policy(#""maxReplicas": 10"#), cluster: cluster, samples: [.value(5)])
        await loop.round(at: 0)
        #expect(cluster.actions == [.updateStatus])
        cluster.clearActions()
        for round in 1...10 { await loop.round(at: Double(round) * 15) }
        #expect(cluster.actions.isEmpty, "\(cluster.actions)")
        // Values that move but change nothing refresh status once a minute at most.
        loop.signals.set([.value(5.2)])
        for round in 11...20 { await loop.round(at: Double(round) * 15) }
        #expect(cluster.actions == [.updateStatus], "\(cluster.actions)")
    }

    @Test func anInvalidPolicyIsReportedOnceAndNotRetried() async throws {
        let cluster = FakeCluster()
        let loop = Loop(try policy(#""minReplicas": 5, "maxReplicas": 2"#), cluster: cluster, samples: [.value(50)])
        #expect(await loop.round(at: 0) == .waitForChange)
        #expect(cluster.actions == [.event("InvalidSpec"), .updateStatus])
        let ready = try #require(cluster.lastStatus?.conditions?.first { $0.type == "Ready" })
        #expect(ready.status == .false)
        #expect(ready.reason == "InvalidSpec")
        #expect(ready.message == "spec.maxReplicas: must be >= spec.minReplicas (2 < 5)")
        cluster.clearActions()
        #expect(await loop.round(at: 15) == .waitForChange)
        #expect(cluster.actions.isEmpty)
        #expect(cluster.replicas == 2)
    }

    @Test func aMissingTargetIsRetriedWithoutScaling() async throws {
        let cluster = FakeCluster()
        cluster.state.withLock { $0.targetExists = false }
        let loop = Loop(try policy(#""maxReplicas": 10"#), cluster: cluster, samples: [.value(50)])
        #expect(await loop.round(at: 0) == .retry(reason: "target not found", within: 15))
        #expect(cluster.actions == [.event("TargetNotFound"), .updateStatus])
        #expect(cluster.lastStatus?.conditions?.first { $0.type == "Ready" }?.reason == "TargetNotFound")
    }

    @Test func missingMetricsHoldThenFallBackThenRecover() async throws {
        let cluster = FakeCluster(replicas: 3)
        let loop = Loop(
            try policy(#""maxReplicas": 10, "fallback": {"replicas": 5, "afterFailures": 2}"#), cluster: cluster,
            samples: [.missing("connection refused")])
        await loop.round(at: 0)
        #expect(cluster.replicas == 3)
        #expect(cluster.actions.contains(.event("MetricsUnavailable")))
        await loop.round(at: 15)
        #expect(cluster.replicas == 5)
        #expect(cluster.actions.contains(.event("FallbackActivated")))
        loop.signals.set([.value(5)])
        await loop.round(at: 30)
        #expect(cluster.actions.contains(.event("FallbackDeactivated")))
        #expect(loop.policy.status?.conditions?.first { $0.type == "Fallback" }?.status == .false)
    }

    @Test func theDisruptionBudgetFollowsAndDisappearsAtZero() async throws {
        let cluster = FakeCluster(replicas: 1)
        let loop = Loop(
            try policy(
                #""minReplicas": 0, "maxReplicas": 4, "signals": [{"type": "Custom", "query": "sum(q{namespace=\"inference\"})", "target": 5}], "scaleToZero": {"idleFor": "0s"}, "disruptionBudget": {"minAvailable": 1}, "behavior": {"scaleDown": {"stabilizationWindow": "0s"}}"#
            ),
            cluster: cluster, samples: [.value(4)])
        await loop.round(at: 0)
        guard
            case .applyBudget(let budget)? = cluster.actions.first(where: {
                if case .applyBudget = $0 { true } else { false }
            })
        else {
            Issue.record("no budget applied: \(cluster.actions)")
            return
        }
        #expect(budget["metadata"]?["name"] == .string("llama"))
        #expect(budget["metadata"]?["ownerReferences"]?.arrayValue?.first?["uid"] == .string("u-1"))
        #expect(budget["spec"]?["minAvailable"] == .number(1))
        #expect(budget["spec"]?["selector"]?["matchLabels"]?["app"] == .string("vllm"))
        // One replica and minAvailable 1: no voluntary disruption possible, and status says so.
        let condition = loop.policy.status?.conditions?.first { $0.type == "DisruptionBudget" }
        #expect(condition?.status == .false)
        #expect(condition?.reason == "NoDisruptionAllowed")

        cluster.clearActions()
        loop.signals.set([.value(0)])
        await loop.round(at: 15)
        await loop.round(at: 30)
        #expect(cluster.replicas == 0)
        #expect(cluster.actions.contains(.deleteBudget))
        #expect(cluster.actions.contains(.event("ScaledToZero")))
        #expect(loop.policy.status?.conditions?.contains { $0.type == "DisruptionBudget" } == false)
    }

    @Test func aFailedScaleIsShownAndKeepsNoScaleInTheHistory() async throws {
        let cluster = FakeCluster(replicas: 2)
        cluster.state.withLock { $0.failScale = true }
        let loop = Loop(try policy(#""maxReplicas": 10"#), cluster: cluster, samples: [.value(15)])
        let result = await loop.round(at: 0)
        #expect(result == .retry(reason: "InternalError: boom", within: 15))
        #expect(cluster.actions == [.event("ScaleFailed"), .updateStatus])
        let status = try #require(loop.policy.status)
        let ready = try #require(status.conditions?.first { $0.type == "Ready" })
        #expect(ready.status == .false)
        #expect(ready.reason == "ScaleFailed")
        #expect(ready.message == "cannot scale the target from 2 to 6: InternalError: boom")
        #expect(status.desiredReplicas == 6)
        #expect(status.lastScaleTime == nil)
        #expect(status.history?.scaleEvents.isEmpty == true)
        // The next round that can scale does, and says so.
        cluster.state.withLock { $0.failScale = false }
        #expect(await loop.round(at: 2) == .requeue(after: 15))
        #expect(cluster.replicas == 6)
        #expect(loop.policy.status?.conditions?.first { $0.type == "Ready" }?.reason == "Reconciled")
    }

    /// Which step fails → what status says, what the retry remembers. 4 replicas, a queue that asks for 1, down one
    /// pod a minute: the first round scales 4 → 3, the retry two seconds later must not take another pod.
    @Test(
        arguments: [
            (nil, 3, "Reconciled", "DisruptionsAllowed", false),
            (FakeCluster.Step.scale, 4, "ScaleFailed", "DisruptionsAllowed", true),
            (FakeCluster.Step.applyBudget, 3, "Reconciled", "ApplyFailed", true),
            (FakeCluster.Step.status, 3, nil, nil, true),
        ] as [(FakeCluster.Step?, Int, String?, String?, Bool)])
    func aFailedStepIsShownAndWhatHappenedIsRemembered(
        _ failing: FakeCluster.Step?, replicas: Int, ready: String?, budget: String?, retried: Bool
    ) async throws {
        let cluster = FakeCluster(replicas: 4)
        if let failing { cluster.forbid(failing) }
        let loop = Loop(
            try policy(
                #""maxReplicas": 10, "disruptionBudget": {"maxUnavailable": 1}, "behavior": {"scaleDown": {"stabilizationWindow": "0s", "policies": [{"type": "Pods", "value": 1, "period": "60s"}]}}"#
            ), cluster: cluster, samples: [.value(1)])
        let result = await loop.round(at: 0)
        #expect(cluster.replicas == replicas)
        let status = loop.policy.status
        #expect(status?.conditions?.first { $0.type == "Ready" }?.reason == ready)
        #expect(status?.conditions?.first { $0.type == "DisruptionBudget" }?.reason == budget)
        if failing != nil, failing != .status {
            let failed = status?.conditions?.first { $0.status == .false && $0.message.contains("Forbidden") }
            #expect(
                failed?.message.hasSuffix("Forbidden: forbidden by the test") == true, "\(status?.conditions ?? [])")
        }
        if retried {
            #expect(result == .retry(reason: "Forbidden: forbidden by the test", within: 15))
        } else {
            #expect(result == .requeue(after: 15))
        }
        // The scale's own failure passes; the others go on failing. Either way one pod a minute holds.
        if failing == .scale { cluster.forbid(.scale, nil) }
        await loop.round(at: 2)
        #expect(cluster.replicas == 3)
        await loop.round(at: 4)
        #expect(cluster.replicas == 3)
    }

    /// At zero the budget goes. A refused delete is shown once and then written no more while it persists; a refused
    /// scale to zero leaves the budget and its condition alone (the pods it protects still run).
    @Test(arguments: [FakeCluster.Step.deleteBudget, .scale])
    func aFailureOnTheWayToZeroLeavesTheBudgetConsistent(_ failing: FakeCluster.Step) async throws {
        let cluster = FakeCluster(replicas: 1)
        let loop = Loop(
            try policy(
                #""minReplicas": 0, "maxReplicas": 4, "signals": [{"type": "Custom", "query": "sum(q{namespace=\"inference\"})", "target": 5}], "scaleToZero": {"idleFor": "0s"}, "disruptionBudget": {"minAvailable": 1}, "behavior": {"scaleDown": {"stabilizationWindow": "0s"}}"#
            ),
            cluster: cluster, samples: [.value(4)])
        await loop.round(at: 0)
        #expect(loop.policy.status?.conditions?.first { $0.type == "DisruptionBudget" }?.status == .false)
        cluster.forbid(failing)
        cluster.clearActions()
        loop.signals.set([.value(0)])
        await loop.round(at: 15)
        let budget = try #require(loop.policy.status?.conditions?.first { $0.type == "DisruptionBudget" })
        switch failing {
        case .deleteBudget:
            #expect(cluster.replicas == 0)
            #expect(budget.reason == "DeleteFailed")
        default:
            #expect(cluster.replicas == 1)
            #expect(budget.reason == "NoDisruptionAllowed", "the budget of the pod that still runs")
            #expect(!cluster.actions.contains(.deleteBudget))
            #expect(loop.policy.status?.conditions?.first { $0.type == "Ready" }?.reason == "ScaleFailed")
        }
        // The same failure again and again: status says it once (round 2 settles what follows a scale to zero).
        await loop.round(at: 30)
        cluster.clearActions()
        for round in 3...6 { await loop.round(at: Double(round) * 15) }
        #expect(!cluster.actions.contains(.updateStatus), "\(cluster.actions)")
    }

    @Test func aHoldWhoseStatusCannotBeWrittenIsRetried() async throws {
        let cluster = FakeCluster()
        cluster.forbid(.status)
        let loop = Loop(try policy(#""minReplicas": 5, "maxReplicas": 2"#), cluster: cluster, samples: [.value(50)])
        #expect(await loop.round(at: 0) == .retry(reason: "Forbidden: forbidden by the test", within: 15))
        cluster.forbid(.status, nil)
        #expect(await loop.round(at: 1) == .waitForChange)
        #expect(loop.policy.status?.conditions?.first { $0.type == "Ready" }?.reason == "InvalidSpec")
    }

    @Test func aBudgetOfTheSameNameIsShownNotRetried() async throws {
        let cluster = FakeCluster(replicas: 2)
        cluster.state.withLock { $0.budgetOwnedByUser = true }
        let loop = Loop(
            try policy(#""maxReplicas": 10, "disruptionBudget": {"maxUnavailable": 1}"#), cluster: cluster,
            samples: [.value(5)])
        #expect(await loop.round(at: 0) == .requeue(after: 15))
        #expect(cluster.actions == [.event("DisruptionBudgetConflict"), .updateStatus])
        #expect(loop.policy.status?.conditions?.first { $0.type == "DisruptionBudget" }?.reason == "NotOwned")
        cluster.clearActions()
        await loop.round(at: 15)
        #expect(cluster.actions.isEmpty, "announced once, written once: \(cluster.actions)")
    }

    @Test func theHistoryInStatusSurvivesARestart() async throws {
        let cluster = FakeCluster(replicas: 10)
        let spec =
            #""maxReplicas": 10, "behavior": {"scaleDown": {"stabilizationWindow": "5m", "policies": [{"type": "Pods", "value": 10, "period": "15s"}]}}"#
        let first = Loop(try policy(spec), cluster: cluster, samples: [.value(5)])
        await first.round(at: 0)
        // A new controller (no memory) with the status as persisted: the down window still holds 10.
        let restarted = Loop(first.policy, cluster: cluster, samples: [.value(0.5)])
        await restarted.round(at: 60)
        #expect(cluster.replicas == 10)
        #expect(restarted.policy.status?.limitedBy == "scaleDownStabilization")
        await restarted.round(at: 301)
        #expect(cluster.replicas == 1)
    }

    @Test func budgetArithmetic() {
        #expect(DisruptionBudgetManifest.allowedDisruptions(.maxUnavailable(.int(1)), replicas: 4) == 1)
        #expect(DisruptionBudgetManifest.allowedDisruptions(.maxUnavailable(.string("25%")), replicas: 5) == 2)
        #expect(DisruptionBudgetManifest.allowedDisruptions(.minAvailable(.int(3)), replicas: 3) == 0)
        #expect(DisruptionBudgetManifest.allowedDisruptions(.minAvailable(.string("50%")), replicas: 4) == 2)
    }

    @Test(arguments: [
        ("app=vllm", ["app": "vllm"], true), ("app=vllm,tier=gpu", ["app": "vllm"], false),
        ("app in (vllm,tgi),!canary", ["app": "tgi"], true),
        ("app in (vllm,tgi),!canary", ["app": "tgi", "canary": "1"], false),
        ("app notin (x),tier", ["app": "vllm", "tier": "a"], true), ("app!=vllm", ["app": "vllm"], false),
    ])
    func labelSelectors(_ text: String, _ labels: [String: String], _ matches: Bool) throws {
        #expect(try LabelSelector(parsing: text).matches(labels) == matches)
    }

    /// A workload's selector object gives the string `/scale` reports, and that string gives the object back (the
    /// budget's selector).
    @Test func aSelectorObjectAndItsStringFormRoundTrip() throws {
        let object = try JSONDecoder().decode(
            JSONValue.self,
            from: Data(
                #"{"matchLabels":{"tier":"gpu","app":"vllm"},"matchExpressions":[{"key":"canary","operator":"DoesNotExist"},{"key":"zone","operator":"In","values":["b","a"]}]}"#
                    .utf8))
        let selector = LabelSelector(object: object)
        #expect(selector.text == "app=vllm,!canary,tier=gpu,zone in (a,b)")
        #expect(try LabelSelector(parsing: selector.text).object == object.normalizedSelector)
        #expect(selector.matches(["app": "vllm", "tier": "gpu", "zone": "a"]))
        #expect(!selector.matches(["app": "vllm", "tier": "gpu", "zone": "a", "canary": "1"]))
    }
}

extension JSONValue {
    /// A selector object as `LabelSelector.object` writes it: values sorted.
    fileprivate var normalizedSelector: JSONValue {
        var copy = self
        if case .array(let expressions)? = self["matchExpressions"] {
            copy = copy.setting(
                .array(
                    expressions.map { expression in
                        guard case .array(let values)? = expression["values"] else { return expression }
                        return expression.setting(
                            .array(values.compactMap(\.stringValue).sorted().map(JSONValue.string)), at: ["values"])
                    }), at: ["matchExpressions"])
        }
        return copy
    }
}
