import Foundation
import KubernetesClient
import KubernetesModel
import Testing

@testable import Controller

/// What keeps the controller from doing harm: paused policies, fights with other autoscalers, Custom queries where
/// they are not allowed, and scale-downs that cut off work in progress.
@Suite struct HardeningReconcileTests {
    typealias Loop = ReconcilerTests.Loop

    static func readyCondition(_ cluster: FakeCluster) -> PolicyCondition? {
        cluster.lastStatus?.conditions?.first { $0.type == "Ready" }
    }

    @Test func aPausedPolicyWritesOnlyStatus() async throws {
        let cluster = FakeCluster(replicas: 2)
        let loop = Loop(try policy(#""maxReplicas": 10, "paused": true"#), cluster: cluster, samples: [.value(50)])
        #expect(await loop.round(at: 0) == .requeue(after: 15))
        #expect(cluster.actions == [.event("Paused"), .updateStatus])
        #expect(Self.readyCondition(cluster)?.reason == "Paused")
        #expect(cluster.state.withLock { $0.events.first?.kind } == .normal)
        cluster.clearActions()
        await loop.round(at: 15)
        #expect(cluster.actions.isEmpty, "a paused policy repeated itself: \(cluster.actions)")
        #expect(cluster.replicas == 2)
    }

    @Test func thePausedAnnotationPausesToo() async throws {
        let cluster = FakeCluster(replicas: 2)
        var paused = try policy(#""maxReplicas": 10, "disruptionBudget": {"maxUnavailable": 1}"#)
        paused.metadata.annotations = [PolicyReconciler.pausedAnnotation: "true"]
        let loop = Loop(paused, cluster: cluster, samples: [.value(50)])
        await loop.round(at: 0)
        #expect(!cluster.actions.contains { if case .setScale = $0 { true } else { false } })
        #expect(!cluster.actions.contains { if case .applyBudget = $0 { true } else { false } })
        #expect(Self.readyCondition(cluster)?.reason == "Paused")
        #expect(Self.readyCondition(cluster)?.message.contains(PolicyReconciler.pausedAnnotation) == true)

        // Unpaused, it scales.
        loop.policy.metadata.annotations = [PolicyReconciler.pausedAnnotation: "false"]
        await loop.round(at: 15)
        #expect(cluster.replicas > 2)
    }

    @Test func anotherAutoscalerOfTheWorkloadIsAConflictAndNothingScales() async throws {
        let cluster = FakeCluster(replicas: 2)
        cluster.state.withLock { $0.conflict = "HorizontalPodAutoscaler inference/vllm also scales Deployment vllm" }
        let loop = Loop(try policy(#""maxReplicas": 10"#), cluster: cluster, samples: [.value(50)])
        #expect(await loop.round(at: 0) == .requeue(after: 15))
        #expect(cluster.actions == [.event("Conflict"), .updateStatus])
        #expect(Self.readyCondition(cluster)?.status == .false)
        #expect(Self.readyCondition(cluster)?.message.contains("HorizontalPodAutoscaler inference/vllm") == true)

        // Resolved: it scales on the next round.
        cluster.state.withLock { $0.conflict = nil }
        await loop.round(at: 15)
        #expect(cluster.replicas == 6)
        #expect(Self.readyCondition(cluster)?.status == .true)
    }

    @Test func customQueriesRunOnlyInAllowedNamespaces() async throws {
        let spec =
            #""maxReplicas": 10, "signals": [{"type": "Custom", "name": "gateway", "query": "sum(x{namespace=\"inference\"})", "target": 5}]"#
        let cluster = FakeCluster(replicas: 2)
        let signals = FakeSignals([.value(50)])
        let denied = PolicyReconciler(
            cluster: cluster, signals: signals, permissions: .init(customQueryNamespaces: ["ml"]))
        #expect(await denied.reconcile(try policy(spec), now: t0) == .waitForChange)
        #expect(cluster.replicas == 2)
        let condition = try #require(Self.readyCondition(cluster))
        #expect(condition.reason == "CustomQueryNotAllowed")
        #expect(condition.message.contains("--allow-custom-queries-in"))

        for allowed: Set<String> in [["inference"], ["*"]] {
            let cluster = FakeCluster(replicas: 2)
            let reconciler = PolicyReconciler(
                cluster: cluster, signals: signals, permissions: .init(customQueryNamespaces: allowed))
            _ = await reconciler.reconcile(try policy(spec), now: t0)
            #expect(cluster.replicas == 6, "allowed in \(allowed)")
        }
    }

    @Test func aScaleDownMarksTheIdlestPodsCheapestToDelete() async throws {
        let cluster = FakeCluster(replicas: 3)
        let loop = Loop(
            try policy(#""maxReplicas": 10, "behavior": {"scaleDown": {"stabilizationWindow": "0s"}}"#),
            cluster: cluster,
            samples: [.value(0)])
        loop.signals.running.withLock { $0 = ["vllm-0": 12, "vllm-1": 0, "vllm-2": 3.4] }
        await loop.round(at: 0)
        let costs = cluster.actions.compactMap { action -> String? in
            if case .deletionCost(let pod, let cost) = action { return "\(pod)=\(cost)" }
            return nil
        }
        #expect(costs.sorted() == ["vllm-0=12", "vllm-1=0", "vllm-2=3"])
        // The costs are set before the scale-down.
        let firstCost = try #require(cluster.actions.firstIndex { if case .deletionCost = $0 { true } else { false } })
        let scale = try #require(cluster.actions.firstIndex { if case .setScale = $0 { true } else { false } })
        #expect(firstCost < scale)
    }

    @Test func aScaleUpSetsNoDeletionCost() async throws {
        let cluster = FakeCluster(replicas: 2)
        let loop = Loop(try policy(#""maxReplicas": 10"#), cluster: cluster, samples: [.value(50)])
        loop.signals.running.withLock { $0 = ["vllm-0": 12, "vllm-1": 0] }
        await loop.round(at: 0)
        #expect(!cluster.actions.contains { if case .deletionCost = $0 { true } else { false } })
    }
}
