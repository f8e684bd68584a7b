import Foundation

/// The request-level fleet driven from outside, for a live demo: the caller adds and drains pods as a Deployment
/// says and advances the clock as wall time passes; each pod's engine metrics are read back as its `/metrics`
/// would show them.
public struct LiveFleet: Sendable {
    /// One pod's engine, as vLLM's `/metrics` shows it.
    public struct PodEngine: Sendable, Equatable {
        public var id: Int
        public var ready: Bool
        /// Requests waiting for this pod (the gateway's queue, shared over ready pods).
        public var waiting: Double
        public var running: Int
        /// 0–1.
        public var kvCacheUsage: Double
        /// Cumulative counts per `TTFTBuckets.bounds` (`le`), then `+Inf`.
        public var ttftBuckets: [Double]
        public var ttftSum: Double
        public var generatedTokens: Double
        public var promptTokens: Double
        /// Cumulative counts per `QueueTimeBuckets.bounds`, then `+Inf` (`vllm:request_queue_time_seconds`).
        public var queueBuckets: [Double]
        public var queueSum: Double
    }

    /// What the fleet served so far, counted exactly.
    public struct Totals: Sendable, Equatable {
        public var arrived: Double
        public var firstTokens: Double
        public var withinSLO: Double
        public var completed: Double
        public var waiting: Int
        public var ttftP95: Double?

        /// Requests that got their first token within the SLO, of those that got one; nil before any did.
        public var sloAttainment: Double? { firstTokens > 0 ? withinSLO / firstTokens : nil }
    }

    private var fleet: RequestFleet
    private var intervalStart: (arrivals: Double, time: Double) = (0, 0)

    /// A fleet of `profile` pods serving `load` (times from 0, the start of the demo), held to `sloTTFT` seconds.
    public init(load: [RateSegment], profile: PodProfile, sloTTFT: Double, seed: UInt64 = 1) {
        fleet = RequestFleet(
            stream: RequestStream(.rates(load), options: ReplayOptions(seed: seed)), profile: profile, sloTTFT: sloTTFT)
    }

    /// Serves every arrival and engine step up to `time`.
    public mutating func advance(to time: Double) {
        fleet.advance(to: time)
    }

    /// A pod that serves from `readyAt` on (its cold start ends then).
    public mutating func addPod(id: Int, readyAt: Double) {
        fleet.addReplica(id: id, readyAt: readyAt)
    }

    /// The pod takes no more work and leaves once what it holds is finished.
    public mutating func drain(id: Int) {
        fleet.drain(id: id)
    }

    /// Drained pods that have finished their work since the last call.
    public mutating func takeRetired() -> [Int] {
        fleet.takeRetired().map(\.id)
    }

    /// Every pod holding a GPU (loading, ready or draining).
    public func pods(at time: Double) -> [PodEngine] {
        fleet.snapshots(at: time).map {
            PodEngine(
                id: $0.id, ready: $0.ready, waiting: $0.waiting, running: $0.running, kvCacheUsage: $0.kvUsage,
                ttftBuckets: $0.ttftBuckets, ttftSum: $0.ttftSum, generatedTokens: $0.generatedTokens,
                promptTokens: $0.promptTokens, queueBuckets: $0.queueBuckets, queueSum: $0.queueSum)
        }
    }

    public var totals: Totals {
        Totals(
            arrived: fleet.stats.arrived, firstTokens: fleet.stats.firstTokens, withinSLO: fleet.stats.withinSLO,
            completed: fleet.stats.completed, waiting: fleet.waiting, ttftP95: fleet.stats.ttft.quantile(0.95))
    }

    /// Since the previous call: the arrival rate (requests per second) and the TTFT p95 of the first tokens given.
    public mutating func takeInterval(at time: Double) -> (load: Double, ttftP95: Double?) {
        let arrivals = fleet.stats.arrived - intervalStart.arrivals
        let span = time - intervalStart.time
        let p95 = fleet.stats.intervalTTFT.quantile(0.95)
        fleet.stats.intervalTTFT.reset()
        intervalStart = (fleet.stats.arrived, time)
        return (span > 0 ? arrivals / span : 0, p95)
    }
}
