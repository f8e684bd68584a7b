import Foundation
import KubernetesModel
import Testing

@testable import AutoscalerCore

/// The cluster's own limits: a ResourceQuota on GPUs or pods, and pods that wait for nodes that do not come.
@Suite struct GuardrailTests {
    static let refusal =
        #"pods "vllm-7d9c-x2k4p" is forbidden: exceeded quota: gpu-quota, requested: requests.nvidia.com/gpu=2, "#
        + "used: requests.nvidia.com/gpu=8, limited: requests.nvidia.com/gpu=8"

    @Test func theQuotaNamedInARefusalIsFound() {
        #expect(QuotaCaps.exceededQuota(in: Self.refusal) == "gpu-quota")
        #expect(QuotaCaps.exceededQuota(in: "pods \"x\" is forbidden: exceeded quota: compute") == "compute")
        #expect(QuotaCaps.exceededQuota(in: "Insufficient nvidia.com/gpu") == nil)
    }

    @Test func aGPUQuotaLeavesRoomForWhatIsFreeDividedByAReplicasGPUs() throws {
        // 10 GPUs allowed, 6 used (3 replicas of 2 GPUs): room for 2 more replicas.
        let quota = QuotaUsage(
            name: "gpu-quota", hard: ["requests.nvidia.com/gpu": 10], used: ["requests.nvidia.com/gpu": 6])
        let cap = try #require(QuotaCaps.cap(quotas: [quota], gpusPerPod: 2, ownPods: 3, existing: 3, failure: nil))
        #expect(cap.replicas == 5)
        #expect(cap.quota == "gpu-quota")
        #expect(!cap.exceeded)
        #expect(cap.detail.contains("requests.nvidia.com/gpu 6 of 10 used"))
        // Another workload's GPUs count too: with 9 used there is no room for a 2-GPU replica.
        let full = QuotaUsage(
            name: "gpu-quota", hard: ["requests.nvidia.com/gpu": 10], used: ["requests.nvidia.com/gpu": 9])
        #expect(QuotaCaps.cap(quotas: [full], gpusPerPod: 2, ownPods: 3, existing: 3, failure: nil)?.replicas == 3)
    }

    @Test func theTightestQuotaWinsAndOthersDoNotCount() {
        let gpus = QuotaUsage(name: "gpus", hard: ["requests.nvidia.com/gpu": 16], used: ["requests.nvidia.com/gpu": 4])
        let pods = QuotaUsage(
            name: "pods", hard: ["pods": 6, "requests.cpu": 100], used: ["pods": 4, "requests.cpu": 2])
        #expect(
            QuotaCaps.cap(quotas: [gpus, pods], gpusPerPod: 1, ownPods: 4, existing: 4, failure: nil)?.quota == "pods")
        // A workload without GPUs is not bounded by a GPU quota; CPU quotas are not counted per replica here.
        #expect(QuotaCaps.cap(quotas: [gpus], gpusPerPod: 0, ownPods: 4, existing: 4, failure: nil) == nil)
        // A scoped quota may not apply to these pods: it counts only once the workload reports it.
        var scoped = gpus
        scoped.scoped = true
        #expect(QuotaCaps.cap(quotas: [scoped], gpusPerPod: 1, ownPods: 4, existing: 4, failure: nil) == nil)
        let reported = QuotaCaps.cap(
            quotas: [scoped], gpusPerPod: 8, ownPods: 4, existing: 4,
            failure: Self.refusal.replacingOccurrences(
                of: "gpu-quota", with: "gpus"))
        #expect(reported?.exceeded == true)
        #expect(reported?.replicas == 5)
    }

    @Test func aRefusalNamingAQuotaNotCountedHereCapsAtThePodsThatExist() {
        let cap = QuotaCaps.cap(quotas: [], gpusPerPod: 1, ownPods: 4, existing: 5, failure: Self.refusal)
        #expect(cap == QuotaCap(quota: "gpu-quota", replicas: 5, exceeded: true, detail: cap?.detail ?? ""))
        // Refused on CPU by a quota that also has a loose pod count: the pod count is not what stopped it.
        let compute = QuotaUsage(
            name: "compute", hard: ["pods": 100, "requests.cpu": 64], used: ["pods": 5, "requests.cpu": 64])
        let cpu =
            #"pods "x" is forbidden: exceeded quota: compute, requested: requests.cpu=8, used: requests.cpu=64, limited: requests.cpu=64"#
        #expect(QuotaCaps.refusedResources(in: cpu) == ["requests.cpu"])
        #expect(QuotaCaps.cap(quotas: [compute], gpusPerPod: 0, ownPods: 5, existing: 5, failure: cpu)?.replicas == 5)
    }

    @Test func anEnormousQuotaIsNoLimitAndNoCrash() {
        let huge = QuotaUsage(name: "open", hard: ["pods": 1e19], used: ["pods": 3])
        let cap = QuotaCaps.cap(quotas: [huge], gpusPerPod: 0, ownPods: 3, existing: 3, failure: nil)
        #expect((cap?.replicas ?? 0) > 1_000_000)
    }

    @Test func aQuotaHoldsGrowthButLowersNothingUntilTheWorkloadReportsIt() {
        let cap = QuotaCap(quota: "gpu-quota", replicas: 4, exceeded: false, detail: "room for 4 replicas")
        let signals = policy(max: 20)
        // 30 waiting on 2 ready, target 5: 6 wanted, 4 allowed.
        let held = ScalingDecider.decide(
            policy: signals, observed: ObservedScale(desiredReplicas: 2, readyReplicas: 2, quota: cap),
            samples: [.value(15)], history: DecisionHistory(), now: t0)
        #expect(held.desiredReplicas == 4)
        #expect(held.limitedBy == .quota("gpu-quota"))
        #expect(held.limitedBy.description == "quota:gpu-quota")
        #expect(condition(held, "ScalingLimited")?.reason == "ResourceQuota")
        #expect(condition(held, "ScalingLimited")?.message.contains("room for 4 replicas") == true)
        // Already at 6 (the quota read a moment later than the pods): held there, not lowered.
        let above = ScalingDecider.decide(
            policy: signals, observed: ObservedScale(desiredReplicas: 6, readyReplicas: 6, quota: cap),
            samples: [.value(10)], history: DecisionHistory(), now: t0)
        #expect(above.desiredReplicas == 6)
        // Reported exceeded: lowered to what it allows, so the ReplicaSet stops asking.
        var exceeded = cap
        exceeded.exceeded = true
        let lowered = ScalingDecider.decide(
            policy: signals,
            observed: ObservedScale(desiredReplicas: 6, currentReplicas: 4, readyReplicas: 4, quota: exceeded),
            samples: [.value(15)], history: DecisionHistory(), now: t0)
        #expect(lowered.desiredReplicas == 4)
        #expect(lowered.limitedBy == .quota("gpu-quota"))
        // Below the cap the signals decide as usual.
        let calm = ScalingDecider.decide(
            policy: signals, observed: ObservedScale(desiredReplicas: 2, readyReplicas: 2, quota: cap),
            samples: [.value(5)], history: DecisionHistory(), now: t0)
        #expect(calm.limitedBy == .signal("QueueDepth"))
        #expect(LimitReason("quota:gpu-quota") == .quota("gpu-quota"))
    }

    func waiting(_ count: Int, since: Date) -> [ObservedPod] {
        (0..<count).map {
            ObservedPod(
                name: "pending-\($0)", createdAt: since, ready: false,
                unschedulable: "0/4 nodes are available: 4 Insufficient nvidia.com/gpu.")
        }
    }

    @Test func podsWaitingForANodeAreInFlightUpToTheLeadTime() {
        let slow = policy(behavior: PolicyDefaults.behavior, startup: 120)
        // 4 pods asked 60 s ago wait for nodes (Karpenter): within the 120 s lead time, capacity in flight.
        let early = decide(slow, current: 6, ready: 2, pods: waiting(4, since: at(-60)), [.value(0)])
        #expect(early.desiredReplicas == 6)
        #expect(early.limitedBy == .coldStart)
        #expect(condition(early, "CapacityAvailable")?.reason == "AwaitingNodes")
        #expect(condition(early, "CapacityAvailable")?.status == .true)
        // 200 s after: past the lead time (a merely slow loading pod would still count up to twice it).
        let late = decide(slow, current: 6, ready: 2, pods: waiting(4, since: at(-200)), [.value(0)])
        #expect(late.desiredReplicas < 6)
        let reported = condition(late, "CapacityAvailable")
        #expect(reported?.status == .false)
        #expect(reported?.reason == "CapacityUnavailable")
        #expect(reported?.message.contains("4 pod(s) unschedulable") == true)
        #expect(reported?.message.contains("Insufficient nvidia.com/gpu") == true)
        let loading = decide(slow, current: 6, ready: 2, pods: startingPods(4, createdAt: at(-200)), [.value(0)])
        #expect(loading.desiredReplicas == 6)
        #expect(condition(loading, "CapacityAvailable")?.reason == "PodsScheduled")
    }

    @Test func strandedPodsAreNotCapacityForABacklog() {
        let slow = policy(behavior: unlimitedBehavior, startup: 120)
        // 2 ready with 15 waiting each: 6 wanted. 4 pods in flight make 6: nothing more.
        let inFlight = decide(slow, current: 6, ready: 2, pods: waiting(4, since: at(-60)), [.value(15)])
        #expect(inFlight.desiredReplicas == 6)
        // Stranded, they are not capacity: the backlog asks for more (a node pool may still take them).
        let stranded = decide(slow, current: 6, ready: 2, pods: waiting(4, since: at(-600)), [.value(22.5)])
        #expect(stranded.desiredReplicas == 9)
    }
}
