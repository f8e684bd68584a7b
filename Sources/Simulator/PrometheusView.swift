import AutoscalerCore
import Foundation

/// One scrape of every ready pod, summed over the fleet: gauges as read, counters cumulative since the start.
public struct ScrapeSample: Sendable, Equatable {
    public var time: Double
    /// Pods that answered the scrape (ready ones: a loading vLLM server does not serve `/metrics` yet).
    public var readyPods: Int
    /// Pods of the target that exist, ready or not.
    public var existingPods: Int
    public var waiting: Double
    public var running: Double
    /// Sum over scraped pods of the KV-cache fraction in use.
    public var kvUsageSum: Double
    /// Sum over scraped pods of DCGM's GPU utilization (0–100) since the previous scrape.
    public var gpuUtilizationSum: Double
    /// `vllm:time_to_first_token_seconds_bucket`, cumulative per `le` of `TTFTBuckets.bounds`, then `+Inf`.
    public var ttftBuckets: [Double]
    public var generatedTokens: Double
    /// `vllm:prompt_tokens_total`.
    public var promptTokens: Double
    /// `vllm:request_queue_time_seconds_bucket`, cumulative per `le` of `QueueTimeBuckets.bounds`, then `+Inf`.
    public var queueBuckets: [Double]

    public init(
        time: Double, readyPods: Int, existingPods: Int, waiting: Double, running: Double, kvUsageSum: Double,
        gpuUtilizationSum: Double, ttftBuckets: [Double], generatedTokens: Double, promptTokens: Double = 0,
        queueBuckets: [Double] = []
    ) {
        self.time = time
        self.readyPods = readyPods
        self.existingPods = existingPods
        self.waiting = waiting
        self.running = running
        self.kvUsageSum = kvUsageSum
        self.gpuUtilizationSum = gpuUtilizationSum
        self.ttftBuckets = ttftBuckets
        self.generatedTokens = generatedTokens
        self.promptTokens = promptTokens
        self.queueBuckets = queueBuckets
    }

    /// `vllm:time_to_first_token_seconds_count`.
    public var ttftCount: Double { ttftBuckets.last ?? 0 }
}

/// vLLM's TTFT histogram boundaries (`vllm/engine/metrics.py`, `vllm/v1/metrics/loggers.py`).
public enum TTFTBuckets {
    public static let bounds: [Double] = [
        0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
        80.0, 160.0, 640.0, 2560.0,
    ]

    /// The index of the first bucket (`le`) that counts `seconds`; `bounds.count` is `+Inf`.
    public static func index(of seconds: Double) -> Int {
        index(of: seconds, in: bounds)
    }

    static func index(of seconds: Double, in bounds: [Double]) -> Int {
        var low = 0
        var high = bounds.count
        while low < high {
            let middle = (low + high) / 2
            if seconds <= bounds[middle] { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// Prometheus's `histogram_quantile` over cumulative bucket counts (`counts.count == bounds.count + 1`): linear
    /// interpolation inside the bucket, the first bucket starting at 0, and the highest finite bound when the rank
    /// falls in `+Inf`. NaN when nothing was counted.
    public static func quantile(_ q: Double, cumulative counts: [Double]) -> Double {
        quantile(q, cumulative: counts, bounds: bounds)
    }

    static func quantile(_ q: Double, cumulative counts: [Double], bounds: [Double]) -> Double {
        guard let total = counts.last, total > 0 else { return .nan }
        if q < 0 { return -.infinity }
        if q > 1 { return .infinity }
        let rank = q * total
        var index = 0
        while index < counts.count - 1 && counts[index] < rank { index += 1 }
        if index == bounds.count { return bounds[bounds.count - 1] }
        let upper = bounds[index]
        let lower = index == 0 ? 0 : bounds[index - 1]
        let below = index == 0 ? 0 : counts[index - 1]
        let inBucket = counts[index] - below
        guard inBucket > 0 else { return upper }
        return lower + (upper - lower) * (rank - below) / inBucket
    }
}

/// vLLM's bucket boundaries for its request-phase histograms, `request_queue_time_seconds` among them
/// (`request_latency_buckets` in `vllm/v1/metrics/loggers.py`).
public enum QueueTimeBuckets {
    public static let bounds: [Double] = [
        0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0,
        1920.0, 7680.0,
    ]

    public static func index(of seconds: Double) -> Int { TTFTBuckets.index(of: seconds, in: bounds) }

    public static func quantile(_ q: Double, cumulative counts: [Double]) -> Double {
        TTFTBuckets.quantile(q, cumulative: counts, bounds: bounds)
    }
}

/// The scrapes Prometheus holds, newest last, kept for the longest window anyone asks about.
public final class ScrapeLog {
    public private(set) var samples: [ScrapeSample] = []
    private var first = 0
    /// Seconds of history to keep (the longest rate window in use, plus a margin).
    public let retention: Double

    public init(retention: Double = 1800) {
        self.retention = retention
    }

    public func append(_ sample: ScrapeSample) {
        samples.append(sample)
        while first < samples.count && samples[first].time < sample.time - retention { first += 1 }
        if first > 4096 && first > samples.count / 2 {
            samples.removeFirst(first)
            first = 0
        }
    }

    /// Samples with `time` in (from, to], oldest first.
    func window(from: Double, to: Double) -> ArraySlice<ScrapeSample> {
        var end = samples.count
        while end > first && samples[end - 1].time > to { end -= 1 }
        var start = end
        while start > first && samples[start - 1].time > from { start -= 1 }
        return samples[start..<end]
    }
}

/// Prometheus as a scaler would query it at `time`: the last scrape for gauges (five-minute lookback, like an
/// instant query), `rate()` and `histogram_quantile` over the scrapes inside a window.
public struct PrometheusView {
    public enum Aggregate: Sendable { case sum, avg }
    public enum Gauge: Sendable { case waiting, running, kvUsage, gpuUtilization }
    public enum Counter: Sendable { case generatedTokens, promptTokens, requests }

    public let time: Double
    let log: ScrapeLog

    public init(time: Double, log: ScrapeLog) {
        self.time = time
        self.log = log
    }

    /// The newest scrape at or before `time`, within Prometheus's five-minute lookback.
    public var latest: ScrapeSample? {
        log.window(from: time - 300, to: time).last
    }

    /// `sum(g{pods})` or `avg(g{pods})`: nil when no pod answered (an empty vector, which is "no data").
    public func gauge(_ gauge: Gauge, _ aggregate: Aggregate) -> Double? {
        guard let sample = latest, sample.readyPods > 0 else { return nil }
        let sum =
            switch gauge {
            case .waiting: sample.waiting
            case .running: sample.running
            case .kvUsage: sample.kvUsageSum
            case .gpuUtilization: sample.gpuUtilizationSum
            }
        return aggregate == .sum ? sum : sum / Double(sample.readyPods)
    }

    /// The fleet's per-second rate of a counter over `window`: nil with fewer than two scrapes in it.
    public func rate(_ counter: Counter, window: Double) -> Double? {
        let samples = log.window(from: time - window, to: time)
        guard let first = samples.first, let last = samples.last, last.time > first.time else { return nil }
        let value: (ScrapeSample) -> Double =
            switch counter {
            case .generatedTokens: { $0.generatedTokens }
            case .promptTokens: { $0.promptTokens }
            case .requests: { $0.ttftCount }
            }
        return max(0, value(last) - value(first)) / (last.time - first.time)
    }

    /// `histogram_quantile(q, sum by (le) (rate(ttft_bucket[window])))`: nil without two scrapes, NaN when no
    /// request got its first token inside the window.
    public func ttftQuantile(_ q: Double, window: Double) -> Double? {
        increase(\.ttftBuckets, window: window).map { TTFTBuckets.quantile(q, cumulative: $0) }
    }

    /// The share of first tokens within `seconds`, from the TTFT buckets' increase over `window`: nil without two
    /// scrapes or with no first token in the window.
    public func ttftShare(atOrBelow seconds: Double, window: Double) -> Double? {
        increase(\.ttftBuckets, window: window).flatMap {
            HistogramShare.atOrBelow(seconds, bounds: TTFTBuckets.bounds, cumulative: $0)
        }
    }

    /// The same over `vllm:request_queue_time_seconds`.
    public func queueTimeQuantile(_ q: Double, window: Double) -> Double? {
        increase(\.queueBuckets, window: window).map { QueueTimeBuckets.quantile(q, cumulative: $0) }
    }

    private func increase(_ buckets: KeyPath<ScrapeSample, [Double]>, window: Double) -> [Double]? {
        let samples = log.window(from: time - window, to: time)
        guard let first = samples.first, let last = samples.last, last.time > first.time else { return nil }
        let end = last[keyPath: buckets]
        let start = first[keyPath: buckets]
        return end.indices.map { index in max(0, end[index] - (index < start.count ? start[index] : 0)) }
    }
}
