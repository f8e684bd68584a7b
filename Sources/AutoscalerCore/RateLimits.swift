import Foundation
import KubernetesModel

/// HPA's per-period rate policies, counted from the replica count at the start of each period.
enum RateLimits {
    /// The most replicas the scale-up rules allow now. A period's start count is the current count less what was
    /// added and plus what was removed within the period (as the HPA controller counts it since Kubernetes 1.27).
    static func scaleUpLimit(
        current: Int, events: [DecisionHistory.ScaleEvent], rules: ResolvedPolicy.ScalingRules, now: Date
    ) -> Int {
        if rules.selectPolicy == .disabled || rules.policies.isEmpty { return current }
        var result: Int?
        for policy in rules.policies {
            let start = periodStart(current: current, events: events, period: policy.period, now: now)
            let proposed: Int
            switch policy.type {
            case .pods: proposed = start + policy.value
            // Rounded up, or a small fleet could never grow by a percentage.
            case .percent: proposed = saturatingInt((Double(start) * (1 + Double(policy.value) / 100)).rounded(.up))
            }
            result = combine(result, proposed, smallest: rules.selectPolicy == .min)
        }
        return max(result ?? current, current)
    }

    /// The fewest replicas the scale-down rules allow now.
    static func scaleDownLimit(
        current: Int, events: [DecisionHistory.ScaleEvent], rules: ResolvedPolicy.ScalingRules, now: Date
    ) -> Int {
        if rules.selectPolicy == .disabled || rules.policies.isEmpty { return current }
        var result: Int?
        for policy in rules.policies {
            let start = periodStart(current: current, events: events, period: policy.period, now: now)
            let proposed: Int
            switch policy.type {
            case .pods: proposed = start - policy.value
            // Truncated, as HPA does: a percentage never removes a fraction of a pod.
            case .percent: proposed = saturatingInt((Double(start) * (1 - Double(policy.value) / 100)).rounded(.down))
            }
            // For scale-down, `Max` (the most change) is the smallest count.
            result = combine(result, proposed, smallest: rules.selectPolicy == .max)
        }
        return min(max(result ?? current, 0), current)
    }

    private static func periodStart(
        current: Int, events: [DecisionHistory.ScaleEvent], period: Double, now: Date
    ) -> Int {
        let cutoff = now.addingTimeInterval(-period)
        var added = 0
        var removed = 0
        for event in events where event.time > cutoff {
            if event.change > 0 { added += event.change } else { removed -= event.change }
        }
        return current - added + removed
    }

    private static func combine(_ result: Int?, _ proposed: Int, smallest: Bool) -> Int {
        guard let result else { return proposed }
        return smallest ? min(result, proposed) : max(result, proposed)
    }
}

/// Converts a replica count computed in floating point to `Int` without trapping on NaN or huge values.
func saturatingInt(_ value: Double) -> Int {
    guard value.isFinite else { return value > 0 ? replicaCeiling : 0 }
    return Int(min(max(value, 0), Double(replicaCeiling)))
}

/// Larger than any replica count a workload can have (`int32` in the API); keeps arithmetic far from overflow.
let replicaCeiling = 1_000_000_000
