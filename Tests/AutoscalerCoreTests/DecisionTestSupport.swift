import Foundation
import KubernetesModel

@testable import AutoscalerCore

/// A fixed instant (2027-01-15T08:00:00Z, a Friday) that decisions are made at, and offsets from it.
let t0 = Date(timeIntervalSince1970: 1_800_000_000)

func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

/// Scaling rules that never get in the way: no window, any step.
let unlimitedRules = ResolvedPolicy.ScalingRules(
    stabilizationWindow: 0, policies: [.init(type: .pods, value: 1000, period: 1)], selectPolicy: .max)

let unlimitedBehavior = ResolvedPolicy.Behavior(tolerance: 0.1, scaleUp: unlimitedRules, scaleDown: unlimitedRules)

func policy(
    min: Int = 1, max: Int = 100, signals: [ResolvedPolicy.Signal] = PolicyDefaults.signals,
    behavior: ResolvedPolicy.Behavior = unlimitedBehavior, schedules: [ResolvedPolicy.Schedule] = [],
    idleFor: Double? = nil, startup: Double? = nil, fallback: ResolvedPolicy.Fallback? = nil, paused: Bool = false
) -> ResolvedPolicy {
    ResolvedPolicy(
        minReplicas: min, maxReplicas: max, signals: signals, schedules: schedules, behavior: behavior,
        scaleToZeroIdleFor: idleFor ?? (min == 0 ? PolicyDefaults.scaleToZeroIdleFor : nil),
        expectedStartup: startup, fallback: fallback, paused: paused)
}

func queue(_ target: Double = 5, _ type: TargetType = .averageValue, activation: Double = 0) -> ResolvedPolicy.Signal {
    .init(type: .queueDepth, target: target, targetType: type, activation: activation)
}

func decide(
    _ policy: ResolvedPolicy, current: Int, ready: Int? = nil, pods: [ObservedPod] = [], _ samples: [SignalSample],
    history: DecisionHistory = DecisionHistory(), now: Date = t0
) -> ScalingDecision {
    ScalingDecider.decide(
        policy: policy,
        observed: ObservedScale(desiredReplicas: current, readyReplicas: ready ?? current, pods: pods),
        samples: samples, history: history, now: now)
}

func startingPods(_ count: Int, createdAt: Date) -> [ObservedPod] {
    (0..<count).map { ObservedPod(name: "starting-\($0)", createdAt: createdAt, ready: false) }
}

func readyPods(_ count: Int, startupSeconds: Double, readyAt: Date) -> [ObservedPod] {
    (0..<count).map {
        ObservedPod(
            name: "ready-\($0)", createdAt: readyAt.addingTimeInterval(-startupSeconds), ready: true,
            readySince: readyAt)
    }
}

func condition(_ decision: ScalingDecision, _ type: String) -> PolicyCondition? {
    decision.conditions.first { $0.type == type }
}
