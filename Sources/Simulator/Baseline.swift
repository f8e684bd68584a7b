import Foundation

/// The scalers we compare against, by the names `simulate --baseline` takes.
public enum Baseline: String, CaseIterable, Sendable {
    case `static`
    case hpa
    case kedaSeed = "keda-seed"
    case kpa
    case oracle

    /// Simulates the trace with this baseline; `static` first searches the smallest count that meets the SLO.
    /// `initialReplicas`: the warm replicas at the start (clamped to the bounds); nil for the minimum.
    public func simulate(
        trace: Trace, options: SimulationOptions, minReplicas: Int, maxReplicas: Int, initialReplicas: Int? = nil
    ) -> SimulationResult {
        let initial = min(maxReplicas, max(max(1, minReplicas), initialReplicas ?? minReplicas))
        switch self {
        case .static:
            return Self.smallestStatic(trace: trace, options: options, maxReplicas: maxReplicas)
        case .hpa:
            var scaler = HPAScaler(minReplicas: minReplicas, maxReplicas: maxReplicas, initialReplicas: initial)
            return FleetSimulator.run(trace: trace, scaler: &scaler, options: options)
        case .kedaSeed:
            var scaler = KEDAScaler(maxReplicas: maxReplicas, initialReplicas: initial)
            return FleetSimulator.run(trace: trace, scaler: &scaler, options: options)
        case .kpa:
            var scaler = KPAScaler(
                minReplicas: minReplicas, maxReplicas: maxReplicas, profile: options.profile, initialReplicas: initial)
            return FleetSimulator.run(trace: trace, scaler: &scaler, options: options)
        case .oracle:
            return OracleScaler.bound(
                trace: trace, options: options, minReplicas: max(1, minReplicas), maxReplicas: maxReplicas
            ).1
        }
    }

    /// The fewest fixed replicas whose SLO attainment reaches `attainment` (binary search: more replicas never
    /// serve worse); `maxReplicas` when none does.
    static func smallestStatic(
        trace: Trace, options: SimulationOptions, maxReplicas: Int, attainment: Double = 0.99
    ) -> SimulationResult {
        func run(_ replicas: Int) -> SimulationResult {
            var scaler = StaticScaler(replicas: replicas)
            return FleetSimulator.run(trace: trace, scaler: &scaler, options: options)
        }
        var low = 1
        var high = max(1, maxReplicas)
        var best = run(high)
        guard best.sloAttainment >= attainment else { return best }
        while low < high {
            let middle = (low + high) / 2
            let result = run(middle)
            if result.sloAttainment >= attainment {
                high = middle
                best = result
            } else {
                low = middle + 1
            }
        }
        return best
    }
}
