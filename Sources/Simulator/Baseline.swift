import Foundation

/// The scalers we compare against, by the names `simulate --baseline` takes.
public enum Baseline: String, CaseIterable, Sendable {
    case `static`
    case hpa
    case kedaSeed = "keda-seed"
    case kpa
    /// KEDA's ScaledObject and Knative's KPA with their threshold swept with hindsight on the trace: the cheapest
    /// setting that meets the SLO (or, when none does, the one that comes closest) — what weeks of tuning give.
    case kedaTuned = "keda-tuned"
    case kpaTuned = "kpa-tuned"
    case oracle

    /// The thresholds the tuned baselines try: waiting requests per replica for KEDA, the share of `max_num_seqs`
    /// in flight per pod for the KPA.
    public static let kedaThresholds: [Double] = [0.5, 1, 2, 3, 5, 8, 13, 20, 30]
    public static let kpaUtilizations: [Double] = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7]

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
        case .kedaTuned:
            return Self.cheapestMeeting(
                Self.kedaThresholds.map { threshold in
                    {
                        var scaler = KEDAScaler(
                            maxReplicas: maxReplicas, initialReplicas: initial, threshold: threshold)
                        return FleetSimulator.run(trace: trace, scaler: &scaler, options: options)
                    }
                })
        case .kpaTuned:
            return Self.cheapestMeeting(
                Self.kpaUtilizations.map { utilization in
                    {
                        var scaler = KPAScaler(
                            minReplicas: minReplicas, maxReplicas: maxReplicas, profile: options.profile,
                            initialReplicas: initial, utilization: utilization)
                        return FleetSimulator.run(trace: trace, scaler: &scaler, options: options)
                    }
                })
        case .oracle:
            return OracleScaler.bound(
                trace: trace, options: options, minReplicas: max(1, minReplicas), maxReplicas: maxReplicas
            ).1
        }
    }

    /// Of the settings' runs, the fewest GPU-hours at `attainment` or above; when none gets there, the highest
    /// attainment.
    static func cheapestMeeting(
        _ runs: [() -> SimulationResult], attainment: Double = 0.99
    ) -> SimulationResult {
        let results = runs.map { $0() }
        if let best = results.filter({ $0.sloAttainment >= attainment }).min(by: { $0.gpuHours < $1.gpuHours }) {
            return best
        }
        return results.max { $0.sloAttainment < $1.sloAttainment }!
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
