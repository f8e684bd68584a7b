import Foundation
import Testing

@testable import AutoscalerCore
@testable import Simulator

/// A fixed count that records what it was shown.
struct RecordingScaler: FleetScaler {
    var replicas: Int
    var name: String { "recording" }
    var syncPeriod: Double { 15 }
    var initialReplicas: Int { replicas }
    var seen: [FleetObservation] = []
    /// A change of count at a given time, to exercise scale-up and drain.
    var plan: [(time: Double, replicas: Int)] = []

    mutating func sync(_ observation: FleetObservation) -> (replicas: Int, reason: String) {
        seen.append(observation)
        if let step = plan.last(where: { $0.time <= observation.time }) { return (step.replicas, "plan") }
        return (replicas, "fixed")
    }
}

/// A per-second rate trace: `rate(second)` requests of `input`/`output` tokens.
func rateTrace(seconds: Int, input: Int, output: Int, rate: (Int) -> Int) -> Trace {
    var lines = ["timestamp_s,requests,input_tokens,output_tokens"]
    for second in 0..<seconds {
        let count = rate(second)
        lines.append("\(second),\(count),\(count * input),\(count * output)")
    }
    return try! Trace.parse(lines.joined(separator: "\n"), name: "synthetic")
}

@Suite struct FleetSimulatorTests {
    @Test func everyRequestCompletesExactlyOnceInTheOrderOfItsOwnTimeline() throws {
        // Two replicas that become four at 60 s and two again at 200 s: requests cross a scale-up and a drain.
        let trace = try Trace.load(TraceTests.path("azure2023_conv.csv"))
        let stream = RequestStream(trace, options: ReplayOptions(rateScale: 2, duration: 300, seed: 7))
        var fleet = RequestFleet(stream: stream, profile: .llama3_8b_h100, sloTTFT: 2, keepFinished: true)
        fleet.addReplica(id: 0, readyAt: 0)
        fleet.addReplica(id: 1, readyAt: 0)
        fleet.advance(to: 60)
        fleet.addReplica(id: 2, readyAt: 150)
        fleet.addReplica(id: 3, readyAt: 150)
        fleet.advance(to: 200)
        fleet.drain(id: 0)
        fleet.drain(id: 2)
        fleet.advance(to: 4000)

        let arrived = Array(RequestStream(trace, options: ReplayOptions(rateScale: 2, duration: 300, seed: 7)))
        let finished = try #require(fleet.finishedLog)
        #expect(Double(arrived.count) == fleet.stats.arrived)
        #expect(finished.count == arrived.count)
        #expect(Set(finished.map(\.request.sequence)).count == arrived.count)
        #expect(Set(finished.map(\.request.sequence)) == Set(1...arrived.count))
        for (request, finishedAt) in finished {
            let firstToken = try #require(request.firstToken)
            #expect(request.arrival <= firstToken && firstToken <= finishedAt)
            #expect(request.arrival == arrived[request.sequence - 1].arrival)
        }
        #expect(fleet.stats.firstTokens == Double(arrived.count))
        // Both drained replicas retired once empty, after the drain began.
        let retired = fleet.takeRetired()
        #expect(Set(retired.map(\.id)) == [0, 2])
        #expect(retired.allSatisfy { $0.at >= 200 })
        #expect(fleet.inFlight == 0)
    }

    @Test func perReplicaMetricsAddUpToTheFleet() throws {
        // What a live fleet would export per pod: the pods' counters and gauges sum to the fleet's.
        let trace = try Trace.load(TraceTests.path("azure2023_conv.csv"))
        let stream = RequestStream(trace, options: ReplayOptions(rateScale: 6, duration: 120, seed: 3))
        var fleet = RequestFleet(stream: stream, profile: .llama3_8b_h100, sloTTFT: 2)
        for id in 0..<3 { fleet.addReplica(id: id, readyAt: id == 2 ? 60 : 0) }
        fleet.advance(to: 45)
        let early = fleet.snapshots(at: 45)
        #expect(early.map(\.ready) == [true, true, false])
        #expect(early[2].running == 0 && early[2].ttftBuckets.last == 0)
        fleet.advance(to: 100)
        let snapshots = fleet.snapshots(at: 100)
        let gauges = fleet.gauges(at: 100)
        #expect(abs(snapshots.map(\.waiting).reduce(0, +) - gauges.waiting) < 1e-9)
        #expect(Double(snapshots.map(\.running).reduce(0, +)) == gauges.running)
        #expect(abs(snapshots.map(\.kvUsage).reduce(0, +) - gauges.kvUsageSum) < 1e-9)
        #expect(snapshots.map { $0.ttftBuckets.last ?? 0 }.reduce(0, +) == fleet.stats.firstTokens)
        #expect(snapshots.map(\.generatedTokens).reduce(0, +) == fleet.stats.generatedTokens)
        // The third replica, Ready at 60 s, took its share of the work.
        #expect((snapshots[2].ttftBuckets.last ?? 0) > 0)
    }

    @Test func theSameSeedGivesTheSameResultAndAnotherSeedDoesNot() throws {
        let trace = try Trace.load(TraceTests.path("servegen_mm-image_rate_600s.csv"))
        let policy = ResolvedPolicy(
            maxReplicas: 16,
            signals: [.init(type: .queueDepth, target: 5), .init(type: .kvCacheUtilization, target: 0.3)])
        func run(seed: UInt64) -> SimulationResult {
            var scaler = PolicyScaler(policy: policy, initialReplicas: 2)
            let options = SimulationOptions(replay: ReplayOptions(rateScale: 2, duration: 3600, seed: seed))
            return FleetSimulator.run(trace: trace, scaler: &scaler, options: options)
        }
        let first = run(seed: 3)
        let again = run(seed: 3)
        let other = run(seed: 4)
        #expect(first.requests > 500)
        #expect(first.requests == again.requests && first.gpuHours == again.gpuHours)
        #expect(first.timeline == again.timeline)
        #expect(first.sloAttainment == again.sloAttainment)
        #expect(first.requests != other.requests)
    }

    @Test func theFluidModelAgreesWithTheRequestLevelModel() {
        // 10 req/s for 5 minutes, then 27 req/s (beyond one H100's 17.6 for this mix) for 5, twice.
        let trace = rateTrace(seconds: 1200, input: 1155, output: 211) { ($0 / 300) % 2 == 1 ? 27 : 10 }
        for replicas in [1, 2] {
            var results: [SimulationResult] = []
            for model in [SimulationOptions.Model.request, .fluid] {
                var scaler = StaticScaler(replicas: replicas)
                results.append(FleetSimulator.run(trace: trace, scaler: &scaler, options: .init(model: model)))
            }
            let (request, fluid) = (results[0], results[1])
            #expect(request.model == "request" && fluid.model == "fluid")
            #expect(
                abs(request.sloAttainment - fluid.sloAttainment) < 0.05,
                "\(replicas): \(request.sloAttainment) vs \(fluid.sloAttainment)")
            #expect(abs(Double(request.requests - fluid.requests)) / Double(request.requests) < 0.02)
            #expect(abs(request.gpuHours - fluid.gpuHours) < 0.01)
        }
    }

    @Test func newPodsPayTheColdStartAndRemovedPodsFinishTheirWork() {
        // 20 req/s of a conversation mix overloads one replica (17.6 req/s) until the second is Ready.
        let trace = rateTrace(seconds: 600, input: 1155, output: 211) { _ in 20 }
        var scaler = RecordingScaler(replicas: 1, plan: [(1, 2), (395, 1)])
        let result = FleetSimulator.run(trace: trace, scaler: &scaler, options: .init(timelineInterval: 10))
        let readyTwo = result.timeline.first { $0.ready == 2 }
        // Asked for at the first sync (7.5 s), Ready 90 s later.
        #expect(readyTwo.map { $0.time >= 90 && $0.time <= 100 } == true)
        // The queue built while it loaded, and drained after.
        #expect(result.timeline.contains { $0.waiting > 50 && $0.time < 90 })
        #expect(result.timeline.contains { $0.waiting == 0 && $0.time > 200 && $0.time < 400 })
        // Removed at the sync at 397.5 s, the pod gave its GPU back only after its requests finished (seconds later).
        #expect(result.timeline.contains { $0.time == 390 && $0.pods == 2 && $0.desired == 1 })
        #expect(result.timeline.contains { $0.time == 410 && $0.pods == 1 })
        #expect(result.completed == result.requests)
        // GPU time: one pod for 600 s, one from 7.5 s to a little after 400 s (its cold start is paid).
        #expect(result.gpuHours > (600 + 392) / 3600 && result.gpuHours < (600 + 430) / 3600)
    }

    @Test func theScalerSeesScrapesNotTheLiveFleet() {
        let trace = rateTrace(seconds: 300, input: 1000, output: 100) { $0 < 100 ? 0 : 10 }
        var scaler = RecordingScaler(replicas: 2)
        _ = FleetSimulator.run(trace: trace, scaler: &scaler, options: .init(scrapeInterval: 15))
        for observation in scaler.seen {
            let latest = observation.metrics.latest
            // The newest scrape is at most one interval old, never from the future.
            #expect(latest.map { $0.time <= observation.time && observation.time - $0.time < 15 } == true)
        }
        // Before load: TTFT has no requests in its window (NaN), the queue is 0; after: a real quantile.
        let early = scaler.seen.first { $0.time > 60 && $0.time < 100 }!
        #expect(early.metrics.ttftQuantile(0.95, window: 60)?.isNaN == true)
        #expect(early.metrics.gauge(.waiting, .avg) == 0)
        let late = scaler.seen.last!
        #expect(late.metrics.ttftQuantile(0.95, window: 60).map { $0 > 0 && $0 < 0.5 } == true)
        #expect(late.metrics.rate(.requests, window: 60).map { abs($0 - 10) < 2 } == true)
    }
}

@Suite struct PrometheusViewTests {
    @Test func histogramQuantileInterpolatesLikePrometheus() {
        // 10 observations: 4 ≤ 0.1, 4 more ≤ 0.25, 2 more ≤ 0.5.
        var counts = [Double](repeating: 0, count: TTFTBuckets.bounds.count + 1)
        let le01 = TTFTBuckets.index(of: 0.1)
        let le025 = TTFTBuckets.index(of: 0.25)
        let le05 = TTFTBuckets.index(of: 0.5)
        for index in counts.indices {
            if index >= le01 { counts[index] += 4 }
            if index >= le025 { counts[index] += 4 }
            if index >= le05 { counts[index] += 2 }
        }
        // Rank 5 of 10: one of the 4 in (0.1, 0.25] → 0.1 + 0.15 × 1/4.
        #expect(abs(TTFTBuckets.quantile(0.5, cumulative: counts) - 0.1375) < 1e-9)
        // Rank 9.5: 1.5 of the 2 in (0.25, 0.5] → 0.25 + 0.25 × 0.75.
        #expect(abs(TTFTBuckets.quantile(0.95, cumulative: counts) - 0.4375) < 1e-9)
        #expect(TTFTBuckets.quantile(0.5, cumulative: [Double](repeating: 0, count: counts.count)).isNaN)
        // Everything in +Inf: the highest finite bound.
        var overflow = [Double](repeating: 0, count: counts.count)
        overflow[overflow.count - 1] = 3
        #expect(TTFTBuckets.quantile(0.99, cumulative: overflow) == 2560)
    }

    @Test func gaugesAreEmptyWithoutReadyPodsAndRatesNeedTwoScrapes() {
        let log = ScrapeLog()
        func sample(_ time: Double, ready: Int, waiting: Double, tokens: Double) -> ScrapeSample {
            ScrapeSample(
                time: time, readyPods: ready, existingPods: 2, waiting: waiting, running: 0, kvUsageSum: 0,
                gpuUtilizationSum: 0, ttftBuckets: [Double](repeating: 0, count: TTFTBuckets.bounds.count + 1),
                generatedTokens: tokens)
        }
        log.append(sample(0, ready: 0, waiting: 0, tokens: 0))
        #expect(PrometheusView(time: 10, log: log).gauge(.waiting, .avg) == nil)
        #expect(PrometheusView(time: 10, log: log).rate(.generatedTokens, window: 60) == nil)
        log.append(sample(15, ready: 2, waiting: 12, tokens: 3000))
        let view = PrometheusView(time: 20, log: log)
        #expect(view.gauge(.waiting, .avg) == 6)
        #expect(view.gauge(.waiting, .sum) == 12)
        #expect(view.rate(.generatedTokens, window: 60) == 200)
        // Five minutes without a scrape: stale, as an instant query's lookback.
        #expect(PrometheusView(time: 400, log: log).gauge(.waiting, .sum) == nil)
    }
}
