import Foundation
import Testing

@testable import AutoscalerCore
@testable import Simulator

/// The objective-only policy on traffic nobody tuned it for, through the simulator (which drives the controller's
/// own decision with what Prometheus would serve).
@Suite struct ObjectivePolicyTests {
    static func objectiveOnly(max: Int = 64) -> ResolvedPolicy {
        var policy = ResolvedPolicy(maxReplicas: max, signals: [])
        policy.objective = .init(timeToFirstToken: .init(quantile: 0.99, seconds: 2))
        policy.behavior.scaleDown = PolicyDefaults.objectiveScaleDown
        return policy
    }

    /// A ramp from 2 to 10 requests/s and back over 24 minutes.
    static func ramp(input: Double, output: Double) -> Trace {
        .rates(
            (0..<24).map { minute in
                let rate = 2 + 8 * sin(Double.pi * Double(minute) / 24)
                return RateSegment(
                    start: Double(minute) * 60, duration: 60, requestsPerSecond: rate, meanInputTokens: input,
                    meanOutputTokens: output)
            })
    }

    @Test func longPromptsAreNotOverload() {
        // 10,000-token prompts: a replica's TTFT is mostly its own prefill (a quarter second on an H100 here), which
        // a fixed TTFT threshold reads as overload. On queue time the fleet follows the load.
        let trace = Self.ramp(input: 10_000, output: 50)
        let options = SimulationOptions(profile: .llama3_8b_h100, replay: ReplayOptions(seed: 7))
        var ours = PolicyScaler(policy: Self.objectiveOnly(), initialReplicas: 2)
        let result = FleetSimulator.run(trace: trace, scaler: &ours, options: options)
        #expect(result.sloAttainment >= 0.99)
        // A guard against pinning, not the goal: the oracle needs 4 replicas at the peak and 1.3 GPU-hours, and the
        // planner, starting from the engine's conservative prior and learning upward only from calm rounds, still
        // ends near 17 and about 4 × that (the note says so).
        let (_, oracle) = OracleScaler.bound(trace: trace, options: options, maxReplicas: 64)
        #expect(result.maxReplicas <= 5 * oracle.maxReplicas)
        #expect(result.gpuHours <= 4.5 * oracle.gpuHours)
        // A fixed TTFT threshold (p95 500 ms, as the signal-list sample has it) reads the prefill as overload.
        var threshold = ResolvedPolicy(
            maxReplicas: 64,
            signals: [.init(type: .queueDepth, target: 5), .init(type: .timeToFirstToken, target: 0.5, quantile: 0.95)])
        threshold.behavior.scaleDown = PolicyDefaults.objectiveScaleDown
        var fixed = PolicyScaler(policy: threshold, initialReplicas: 2)
        let pinned = FleetSimulator.run(trace: trace, scaler: &fixed, options: options)
        #expect(pinned.maxReplicas > 2 * result.maxReplicas)
        #expect(result.gpuHours < pinned.gpuHours / 2)
    }

    @Test func theOracleIsALowerBoundOfEveryScheduleThatMeetsTheSLO() {
        let trace = Self.ramp(input: 1_000, output: 200)
        let options = SimulationOptions(profile: .llama3_8b_h100, replay: ReplayOptions(seed: 3))
        let (_, oracle) = OracleScaler.bound(trace: trace, options: options, maxReplicas: 64)
        #expect(oracle.sloAttainment >= 0.99)
        var ours = PolicyScaler(policy: Self.objectiveOnly(), initialReplicas: 2)
        let result = FleetSimulator.run(trace: trace, scaler: &ours, options: options)
        let fixed = Baseline.static.simulate(trace: trace, options: options, minReplicas: 1, maxReplicas: 64)
        for other in [result, fixed] where other.sloAttainment >= 0.99 {
            #expect(other.gpuHours >= oracle.gpuHours)
        }
    }
}
