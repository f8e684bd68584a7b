import Foundation
import Testing

@testable import Simulator

/// An observation at `time` with `ready` ready pods of `pods`, whose last scrape read `waiting` requests in all (nil:
/// Prometheus had no data).
func observation(time: Double, desired: Int, ready: Int, pods: Int? = nil, waiting: Double?) -> FleetObservation {
    let log = ScrapeLog()
    if let waiting {
        log.append(
            ScrapeSample(
                time: time - 1, readyPods: ready, existingPods: pods ?? ready, waiting: waiting, running: 0,
                kvUsageSum: 0, gpuUtilizationSum: 0,
                ttftBuckets: [Double](repeating: 0, count: TTFTBuckets.bounds.count + 1), generatedTokens: 0))
    }
    let all = (0..<(pods ?? ready)).map { index in PodView(createdAt: 0, readyAt: index < ready ? 0 : nil) }
    return FleetObservation(
        time: time, desiredReplicas: desired, readyReplicas: ready, pods: all,
        metrics: PrometheusView(time: time, log: log))
}

@Suite struct HPABaselineTests {
    @Test func withinTheToleranceNothingChanges() {
        var hpa = HPAScaler(minReplicas: 1, maxReplicas: 50, initialReplicas: 10)
        // 54 waiting on 10 pods: 5.4 per pod, ratio 1.08 ≤ 1.1.
        #expect(hpa.sync(observation(time: 15, desired: 10, ready: 10, waiting: 54)).replicas == 10)
        // 60 waiting: ratio 1.2 → ceil(1.2 × 10) = 12.
        #expect(hpa.sync(observation(time: 30, desired: 10, ready: 10, waiting: 60)).replicas == 12)
    }

    @Test func scaleUpIsLimitedToTheLargerOfFourPodsAndDoublingPer15Seconds() {
        var hpa = HPAScaler(minReplicas: 1, maxReplicas: 100, initialReplicas: 2)
        // 2 pods with 100 waiting each: wants 40; max(2 + 4, 2 × 2) = 6.
        #expect(hpa.sync(observation(time: 15, desired: 2, ready: 2, waiting: 200)).replicas == 6)
        // 10 pods (all reporting) with 50 each: wants 100; max(10 + 4, 20) = 20.
        var big = HPAScaler(minReplicas: 1, maxReplicas: 100, initialReplicas: 10)
        #expect(big.sync(observation(time: 15, desired: 10, ready: 10, waiting: 500)).replicas == 20)
    }

    @Test func missingPodsCountAsZeroWhenScalingUp() {
        var hpa = HPAScaler(minReplicas: 1, maxReplicas: 100, initialReplicas: 8)
        // 4 ready report 40 waiting (10 each, ratio 2); 4 loading report nothing. Assumed 0: 40 / (8 × 5) = 1: hold.
        #expect(hpa.sync(observation(time: 15, desired: 8, ready: 4, pods: 8, waiting: 40)).replicas == 8)
        // 60 waiting: 60 / 40 = 1.5 → ceil(1.5 × 8) = 12.
        #expect(hpa.sync(observation(time: 30, desired: 8, ready: 4, pods: 8, waiting: 60)).replicas == 12)
    }

    @Test func scaleDownWaitsForTheFiveMinuteWindowThenFalls() {
        var hpa = HPAScaler(minReplicas: 1, maxReplicas: 100, initialReplicas: 10)
        #expect(hpa.sync(observation(time: 0, desired: 10, ready: 10, waiting: 50)).replicas == 10)
        // An empty queue recommends 1, but the window still holds the 10 of t = 0.
        #expect(hpa.sync(observation(time: 150, desired: 10, ready: 10, waiting: 0)).replicas == 10)
        #expect(hpa.sync(observation(time: 299, desired: 10, ready: 10, waiting: 0)).replicas == 10)
        // Past the window: down to 1 at once (100 % per 15 s) — the queue-depth sawtooth.
        #expect(hpa.sync(observation(time: 301, desired: 10, ready: 10, waiting: 0)).replicas == 1)
    }

    @Test func noMetricMeansNoScaling() {
        var hpa = HPAScaler(minReplicas: 1, maxReplicas: 100, initialReplicas: 6)
        #expect(hpa.sync(observation(time: 15, desired: 6, ready: 6, waiting: nil)).replicas == 6)
    }
}

@Suite struct KEDABaselineTests {
    @Test func scaleUpIsTwoPodsPer30Seconds() {
        var keda = KEDAScaler(maxReplicas: 50, initialReplicas: 4)
        // 100 waiting / 5 = 20 wanted; 2 pods per 30 s: 6, then still 6 at 15 s, 8 at 31 s.
        #expect(keda.sync(observation(time: 1, desired: 4, ready: 4, waiting: 100)).replicas == 6)
        #expect(keda.sync(observation(time: 16, desired: 6, ready: 4, pods: 6, waiting: 100)).replicas == 6)
        #expect(keda.sync(observation(time: 32, desired: 6, ready: 4, pods: 6, waiting: 100)).replicas == 8)
    }

    @Test func loadingPodsDoNotHoldItBack() {
        // status.replicas counts the 4 loading pods, yet the total alone decides: 60 / 5 = 12 (limited to +2).
        var keda = KEDAScaler(maxReplicas: 50, initialReplicas: 8)
        #expect(keda.sync(observation(time: 1, desired: 8, ready: 4, pods: 8, waiting: 60)).replicas == 10)
    }

    @Test func scaleDownAfterTenMinutesThenOnePodPerTwoMinutesAndNeverBelowTwo() {
        var keda = KEDAScaler(maxReplicas: 50, initialReplicas: 5)
        #expect(keda.sync(observation(time: 0, desired: 5, ready: 5, waiting: 25)).replicas == 5)
        #expect(keda.sync(observation(time: 590, desired: 5, ready: 5, waiting: 0)).replicas == 5)
        #expect(keda.sync(observation(time: 601, desired: 5, ready: 5, waiting: 0)).replicas == 4)
        #expect(keda.sync(observation(time: 661, desired: 4, ready: 4, waiting: 0)).replicas == 4)
        #expect(keda.sync(observation(time: 722, desired: 4, ready: 4, waiting: 0)).replicas == 3)
        #expect(keda.sync(observation(time: 843, desired: 3, ready: 3, waiting: 0)).replicas == 2)
        #expect(keda.sync(observation(time: 964, desired: 2, ready: 2, waiting: 0)).replicas == 2)
    }

    @Test func noDataIsTakenAsZero() {
        // ignoreNullValues: a Prometheus outage reads as an idle fleet, and after the window it scales in.
        var keda = KEDAScaler(maxReplicas: 50, initialReplicas: 6)
        #expect(keda.sync(observation(time: 0, desired: 6, ready: 6, waiting: 30)).replicas == 6)
        #expect(keda.sync(observation(time: 601, desired: 6, ready: 6, waiting: nil)).replicas == 5)
    }
}

@Suite struct KPABaselineTests {
    static let profile = PodProfile.llama3_8b_a100  // max_num_seqs 256: target 0.7 × 256 = 179.2 per pod

    static func feed(_ kpa: inout KPAScaler, from: Int, to: Int, concurrency: Double) {
        for second in from..<to {
            kpa.sample(FleetGauges(time: Double(second), readyPods: 1, waiting: 0, running: concurrency, kvUsageSum: 0))
        }
    }

    @Test func stableModeIsTheWindowAverageOverTheTarget() {
        var kpa = KPAScaler(minReplicas: 1, maxReplicas: 50, profile: Self.profile, initialReplicas: 3)
        // 500 in flight for 60 s: ceil(500 / 179.2) = 3; panic needs ceil(…)/3 ≥ 2, not met.
        Self.feed(&kpa, from: 0, to: 60, concurrency: 500)
        let result = kpa.sync(observation(time: 60, desired: 3, ready: 3, waiting: 0))
        #expect(result.replicas == 3)
        #expect(result.reason.contains("stable"))
    }

    @Test func panicStartsAtTwiceTheReadyPodsAndNeverScalesDownWhileItLasts() {
        var kpa = KPAScaler(minReplicas: 1, maxReplicas: 50, profile: Self.profile, initialReplicas: 2)
        Self.feed(&kpa, from: 0, to: 54, concurrency: 200)
        // A burst: 1,500 in flight over the last 6 s → ceil(1500 / 179.2) = 9 ≥ 2 × 2 ready: panic, 9.
        Self.feed(&kpa, from: 54, to: 60, concurrency: 1500)
        let panic = kpa.sync(observation(time: 60, desired: 2, ready: 2, waiting: 0))
        #expect(panic.replicas == 9)
        #expect(panic.reason.contains("panic"))
        // The burst is over: the stable average (≈ 330 → 2) would lower it, but panic holds 9 for a stable window.
        Self.feed(&kpa, from: 60, to: 100, concurrency: 200)
        #expect(kpa.sync(observation(time: 100, desired: 9, ready: 9, waiting: 0)).replicas == 9)
        Self.feed(&kpa, from: 100, to: 121, concurrency: 200)
        // 60 s after the last panic condition: stable again, at most halving per tick (9 / 2 → 4).
        let calm = kpa.sync(observation(time: 121, desired: 9, ready: 9, waiting: 0))
        #expect(calm.reason.contains("stable"))
        #expect(calm.replicas == 4)
    }
}

@Suite struct ReferenceScalerTests {
    @Test func theOracleStartsPodsOneColdStartAheadAndMeetsTheSLO() {
        // 5 req/s, then 40 req/s from 600 s to 900 s (a conversation mix: 17.6 req/s per replica when full).
        let trace = rateTrace(seconds: 1200, input: 1155, output: 211) { $0 >= 600 && $0 < 900 ? 40 : 5 }
        let options = SimulationOptions()
        var oracle = OracleScaler.plan(trace: trace, options: options)
        let low = oracle.schedule[100]
        let high = oracle.schedule[700]
        #expect(low == 1)
        #expect(high >= 3 && high <= 4)
        // Full strength one cold start (90 s) before the load, not long before; back down soon after it ends.
        let raised = oracle.schedule.firstIndex(of: high)!
        #expect(raised <= 600 - 90 && raised >= 600 - 91 - 60)
        #expect(oracle.schedule[899] == high && oracle.schedule[1000] == low)
        let result = FleetSimulator.run(trace: trace, scaler: &oracle, options: options)
        #expect(result.sloAttainment >= 0.99)
    }

    @Test func staticIsTheSmallestFixedCountThatMeetsTheSLO() {
        let trace = rateTrace(seconds: 240, input: 1155, output: 211) { _ in 30 }
        let options = SimulationOptions()
        let best = Baseline.smallestStatic(trace: trace, options: options, maxReplicas: 16)
        #expect(best.scaler == "static(2)")
        #expect(best.sloAttainment >= 0.99)
        var one = StaticScaler(replicas: 1)
        #expect(FleetSimulator.run(trace: trace, scaler: &one, options: options).sloAttainment < 0.99)
    }
}

@Suite struct TunedBaselineTests {
    static func result(_ name: String, gpuHours: Double, attainment: Double) -> SimulationResult {
        SimulationResult(
            scaler: name, profile: "p", model: "request", durationSeconds: 60, requests: 100, completed: 100,
            gpuHours: gpuHours, sloTTFTSeconds: 2, sloAttainment: attainment, ttftP50: nil, ttftP95: nil, ttftP99: nil,
            scaleEvents: 0, maxReplicas: 1, meanReplicas: 1, timeline: [])
    }

    @Test func theCheapestSettingThatMeetsTheSLOWinsElseTheClosest() {
        let runs = [
            Self.result("loose", gpuHours: 5, attainment: 0.95), Self.result("middle", gpuHours: 8, attainment: 0.992),
            Self.result("tight", gpuHours: 12, attainment: 0.999),
        ]
        #expect(Baseline.cheapestMeeting(runs.map { run in { run } }).scaler == "middle")
        let short = [Self.result("a", gpuHours: 5, attainment: 0.9), Self.result("b", gpuHours: 9, attainment: 0.97)]
        #expect(Baseline.cheapestMeeting(short.map { run in { run } }).scaler == "b")
    }

    @Test func theSweptSettingsAreNamed() {
        #expect(KEDAScaler(maxReplicas: 8).name == "keda-seed")
        #expect(KEDAScaler(maxReplicas: 8, threshold: 2).name == "keda(threshold 2)")
        let kpa = KPAScaler(
            minReplicas: 1, maxReplicas: 8, profile: .llama3_8b_h100, initialReplicas: 1, utilization: 0.2)
        #expect(kpa.name == "kpa(target 20 % of max_num_seqs)")
        #expect(kpa.target == 0.2 * Double(PodProfile.llama3_8b_h100.maxNumSeqs))
    }
}
