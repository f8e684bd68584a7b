import Foundation

/// What the objective planner reads of the workload in one round, fleet-wide, each a number or missing with the
/// reason (the engine's counters and histograms over the rate window).
public struct WorkloadSample: Sendable, Equatable {
    /// Requests per second that got their first token (the TTFT histogram's count).
    public var requestRate: SignalSample
    /// Prompt and generated tokens per second (the engine's token counters).
    public var promptTokenRate: SignalSample
    public var generatedTokenRate: SignalSample
    /// Seconds requests waited before the engine took them, at the objective's percentile: the part of TTFT more
    /// replicas remove (vLLM's `request_queue_time_seconds`).
    public var queueTime: SignalSample
    /// TTFT at the objective's percentile, for engines without a queue-time histogram.
    public var timeToFirstToken: SignalSample
    /// Inter-token latency at the objective's percentile (when the objective has one).
    public var interTokenLatency: SignalSample
    /// KV-cache use averaged over ready pods, 0–1: how close the replicas are to full before requests queue.
    public var kvCacheUsage: SignalSample
    /// The share of first tokens in the window within the objective's TTFT target (from the TTFT histogram), 0–1.
    public var withinTarget: SignalSample
    /// Ready pods without a request-counter series in the rate window (not scraped yet, or no longer): what they
    /// served is unknown, so `requestRate` is a lower bound.
    public var silentPods: [String]

    public init(
        requestRate: SignalSample, promptTokenRate: SignalSample = .missing("not read"),
        generatedTokenRate: SignalSample = .missing("not read"), queueTime: SignalSample = .missing("not read"),
        timeToFirstToken: SignalSample = .missing("not read"), interTokenLatency: SignalSample = .missing("not read"),
        kvCacheUsage: SignalSample = .missing("not read"), withinTarget: SignalSample = .missing("not read"),
        silentPods: [String] = []
    ) {
        self.requestRate = requestRate
        self.promptTokenRate = promptTokenRate
        self.generatedTokenRate = generatedTokenRate
        self.queueTime = queueTime
        self.timeToFirstToken = timeToFirstToken
        self.interTokenLatency = interTokenLatency
        self.kvCacheUsage = kvCacheUsage
        self.withinTarget = withinTarget
        self.silentPods = silentPods
    }

    /// Every reading missing for one reason (Prometheus unreachable).
    public static func missing(_ reason: String) -> WorkloadSample {
        let sample = SignalSample.missing(reason)
        return WorkloadSample(
            requestRate: sample, promptTokenRate: sample, generatedTokenRate: sample, queueTime: sample,
            timeToFirstToken: sample, interTokenLatency: sample, kvCacheUsage: sample, withinTarget: sample)
    }
}

extension SignalSample {
    /// The number when it is one a measure can take (finite, not negative).
    var usable: Double? {
        guard case .value(let number) = self, number.isFinite, number >= 0 else { return nil }
        return number
    }

    /// Why `usable` is nil (empty when it is not).
    var reason: String {
        switch self {
        case .missing(let reason): reason
        case .value(let number) where number.isNaN: "value is NaN"
        case .value(let number) where number.isInfinite: "value is \(number > 0 ? "+Inf" : "-Inf")"
        case .value(let number) where number < 0: "negative value \(number)"
        case .value: ""
        }
    }

    /// For a latency quantile: over no requests it is NaN, and with a served-request rate of 0 there was no latency
    /// to miss (0); with requests, or an unknown rate, NaN stays missing.
    public func latency(servedRate: SignalSample) -> SignalSample {
        guard case .value(let value) = self, value.isNaN else { return self }
        return servedRate == .value(0) ? .value(0) : .missing("NaN")
    }
}
