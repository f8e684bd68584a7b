import Foundation

/// Latencies in log-spaced buckets 1 % wide (0.1 ms to 10⁶ s): percentiles to within 1 % in constant memory,
/// and fractional counts for the fluid model's cohorts.
public struct LatencyRecorder: Sendable {
    private static let floor = 1e-4
    private static let growth = 1.01
    private static let logGrowth = log(growth)
    private static let bucketCount = Int((log(1e6 / floor) / logGrowth).rounded(.up)) + 1

    private var counts: [Double]
    public private(set) var total: Double = 0

    public init() {
        counts = []
    }

    public mutating func record(_ seconds: Double, count: Double = 1) {
        guard count > 0 else { return }
        if counts.isEmpty { counts = [Double](repeating: 0, count: Self.bucketCount) }
        let index =
            seconds <= Self.floor
            ? 0 : min(Self.bucketCount - 1, Int((log(seconds / Self.floor) / Self.logGrowth).rounded(.up)))
        counts[index] += count
        total += count
    }

    /// The `q` quantile (upper edge of its bucket); nil when nothing was recorded.
    public func quantile(_ q: Double) -> Double? {
        guard total > 0 else { return nil }
        let rank = q * total
        var seen = 0.0
        for (index, count) in counts.enumerated() where count > 0 {
            seen += count
            if seen >= rank - 1e-9 { return Self.floor * pow(Self.growth, Double(index)) }
        }
        return Self.floor * pow(Self.growth, Double(counts.count - 1))
    }

    public mutating func reset() {
        if total > 0 { counts = [Double](repeating: 0, count: Self.bucketCount) }
        total = 0
    }
}

/// What the fleet served, counted as the engines' own metrics count it, plus the exact outcome for the report.
struct ServiceStats {
    let sloTTFT: Double
    var arrived = 0.0
    var completed = 0.0
    var firstTokens = 0.0
    var withinSLO = 0.0
    /// Per `TTFTBuckets` bucket (not cumulative), the last one `+Inf`.
    var ttftBucketCounts = [Double](repeating: 0, count: TTFTBuckets.bounds.count + 1)
    var generatedTokens = 0.0
    var promptTokens = 0.0
    /// Per `QueueTimeBuckets` bucket (not cumulative), the last one `+Inf`: time from arrival to admission.
    var queueBucketCounts = [Double](repeating: 0, count: QueueTimeBuckets.bounds.count + 1)
    /// GPU-busy seconds summed over replicas (DCGM's utilization counts a busy engine as 100 %).
    var busySeconds = 0.0
    var ttft = LatencyRecorder()
    /// TTFTs of the current timeline interval.
    var intervalTTFT = LatencyRecorder()
    var intervalArrivals = 0.0
    var intervalMissed = 0.0

    init(sloTTFT: Double) {
        self.sloTTFT = sloTTFT
    }

    mutating func arrive(_ count: Double = 1) {
        arrived += count
        intervalArrivals += count
    }

    mutating func firstToken(after seconds: Double, count: Double = 1) {
        firstTokens += count
        if seconds <= sloTTFT { withinSLO += count } else { intervalMissed += count }
        ttftBucketCounts[TTFTBuckets.index(of: seconds)] += count
        ttft.record(seconds, count: count)
        intervalTTFT.record(seconds, count: count)
    }

    /// A request (or a cohort's share) taken by a replica after waiting `seconds` at the gateway.
    mutating func admitted(after seconds: Double, promptTokens tokens: Double, count: Double = 1) {
        queueBucketCounts[QueueTimeBuckets.index(of: seconds)] += count
        promptTokens += tokens
    }

    var cumulativeTTFTBuckets: [Double] { Self.cumulative(ttftBucketCounts) }
    var cumulativeQueueBuckets: [Double] { Self.cumulative(queueBucketCounts) }

    static func cumulative(_ counts: [Double]) -> [Double] {
        var running = 0.0
        return counts.map { count in
            running += count
            return running
        }
    }
}

/// A fleet's data plane: requests arrive, wait at a shared gateway, and are served by replicas.
protocol FleetModel {
    var stats: ServiceStats { get set }
    /// Serves everything up to `time`.
    mutating func advance(to time: Double)
    /// A replica that serves from `readyAt` on.
    mutating func addReplica(id: Int, readyAt: Double)
    /// Takes no more work; finishes what it holds, then retires.
    mutating func drain(id: Int)
    /// Drained replicas that hold no more work since the last call, with when they emptied.
    mutating func takeRetired() -> [(id: Int, at: Double)]
    /// The engine gauges over replicas ready at `time`.
    func gauges(at time: Double) -> FleetGauges
    /// Requests arrived and not yet given their first token, or not finished.
    var inFlight: Double { get }
    /// Whether no more requests will arrive.
    var arrivalsExhausted: Bool { get }
}
