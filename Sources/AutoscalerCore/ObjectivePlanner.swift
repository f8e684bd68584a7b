import Foundation
import KubernetesModel

/// Sizes the fleet for `spec.objective`: forecast demand one lead time ahead ÷ what one replica sustains within the
/// objective, learned online. Pure: the state comes in and goes out with the decision's history.
///
/// Capacity is kept in multiples of a reference replica whose requests per second follow from the request mix
/// (`ReferenceReplica`), so that a shift from short chats to long prompts moves the estimate by itself. It is
/// learned from two kinds of evidence, per ready replica (pods still loading serve nothing, so they are not
/// counted):
/// - *calm*: requests barely queue (queue time at the objective's percentile ≤ `calmShare` of the target), so a
///   replica sustains at least its present load: a lower bound, and while the fleet is loaded near what the
///   estimate allows the estimate creeps up (`probeStep`), never beyond `probeCeiling` × the highest calm load seen;
/// - *saturated*: requests queue for more than `queueShare` of the target (or the inter-token latency misses its
///   target), so the present load is at least what a replica sustains within the objective: an upper bound.
public enum ObjectivePlanner {
    /// The part of the TTFT target queueing may take; the rest is the request's own prefill, which more replicas
    /// cannot shorten.
    public static let queueShare = 0.5
    /// Below this share of the target, requests did not queue to speak of.
    public static let calmShare = 0.2
    /// The finest queue time the engines' histograms resolve (vLLM's first `request_queue_time_seconds` bucket).
    public static let queueResolution = 0.3
    /// Capacity growth per calm round while the fleet is loaded near the estimate.
    public static let probeStep = 0.02
    /// How far above the highest calm load the estimate may probe.
    public static let probeCeiling = 1.1
    /// Rounds of evidence before the estimate may lower the count.
    public static let trustedAfter = 3
    /// Capacity stays this share below a load at which requests queued.
    public static let saturatedMargin = 0.85
    /// The estimate's cut when requests queue beyond their share.
    public static let decrease = 0.9
    /// Per calm round, the remembered load that queued rises by this share (it halves its hold in about an hour).
    public static let saturationForgetting = 0.003
    /// KV-cache use above which a replica is close to full: the estimate does not probe upward.
    public static let fullCache = 0.8
    /// A request mix whose reference cost moves by more than this share is a new mix.
    public static let mixShift = 0.5
    /// The error budget's memory, in seconds: misses older than this weigh less than a third.
    public static let budgetHorizon = 86_400.0
    /// Headroom added per round in which requests miss the target while the budget is overspent, and taken back
    /// per round while it is not: the budget is there to be spent, not hoarded.
    public static let budgetStep = 0.05
    public static let budgetRelax = 0.005
    /// The most headroom the budget adds.
    public static let maxExtraHeadroom = 2.0
    /// KV-cache use above which a replica holds requests: with no first token served, the counter is not moving.
    public static let busyCache = 0.02
    static let trendWindow = 600.0
    static let ratePoints = 30
    static let dailySpacing = 900.0
    static let dailySpan = 26.0 * 3600

    /// What a replica of the engine does at least, on modest hardware: the prior before anything is learned.
    public struct ReferenceReplica: Sendable, Equatable {
        public var promptTokensPerSecond: Double
        public var generatedTokensPerSecond: Double

        /// Requests per second for a mix of `prompt` and `generated` tokens per request.
        public func requestsPerSecond(prompt: Double, generated: Double) -> Double {
            1 / max(1e-9, prompt / promptTokensPerSecond + generated / generatedTokensPerSecond)
        }

        /// For the planner's smoothed mix (a chat request before any token counter was read).
        func requestsPerSecond(_ state: DecisionHistory.Planner) -> Double {
            requestsPerSecond(
                prompt: state.promptTokens ?? defaultMix.prompt,
                generated: state.generatedTokens ?? defaultMix.generated)
        }

        public static func preset(for engine: Engine) -> ReferenceReplica {
            // One replica of an 8B model on an L4-class GPU, well below an H100: conservative, learned upward.
            ReferenceReplica(promptTokensPerSecond: 8_000, generatedTokensPerSecond: 2_000)
        }
    }

    /// A mix to assume before any token counter was read: a chat request.
    static let defaultMix = (prompt: 1_000.0, generated: 200.0)

    public struct Plan: Sendable, Equatable {
        /// The replica count the objective needs; nil when the planner cannot say (missing counters).
        public var recommendation: Int?
        public var error: String?
        /// Forecast requests per second, and what one replica may carry of it within the objective with headroom.
        public var forecast: Double?
        public var perReplica: Double?
        /// The queue-time backlog asked for more than the model (the model was wrong, or a burst).
        public var overloaded: Bool
        public var status: ObjectiveStatus
        public var condition: PolicyCondition
        public var state: DecisionHistory.Planner
    }

    /// - Parameters:
    ///   - startups: seconds from creation to Ready of the target's recently started pods.
    ///   - upStep: the most the rate policies allow now; the backlog override never asks beyond it.
    public static func plan(
        objective: ResolvedPolicy.Objective, engine: Engine, sample: WorkloadSample, ready: Int, current: Int,
        inFlightCapacity: Int?, upStep: Int, startups: [Double], expectedStartup: Double?,
        pollingInterval: Double, state previous: DecisionHistory.Planner?, now: Date
    ) -> Plan {
        var state = previous ?? DecisionHistory.Planner()
        let reference = ReferenceReplica.preset(for: engine)
        let lead = leadTime(startups: startups, expected: expectedStartup) + pollingInterval
        let target = objective.timeToFirstToken.seconds

        func hold(_ reason: String, _ code: String) -> Plan {
            Plan(
                recommendation: nil, error: reason, forecast: nil, perReplica: nil, overloaded: false,
                status: status(state: state, reference: reference, lead: lead, demand: nil, forecast: nil, method: nil),
                condition: .init(
                    type: .objectivePlanned, status: .false, reason: code,
                    message: "holding: \(reason); only the safety floors may add replicas"),
                state: state)
        }
        guard let rate = sample.requestRate.usable else {
            return hold("request rate: \(sample.requestRate.reason)", "CountersMissing")
        }
        // A request counter that does not move while the replicas generate tokens or hold requests in their KV
        // cache is stale (a wedged engine, a broken exporter), not an idle fleet: a rate of 0 would shrink it.
        if ready > 0, rate <= 1e-6 {
            if let generated = sample.generatedTokenRate.usable, generated > 1e-6 {
                return hold(
                    "request rate: no first token served while \(Int(generated.rounded())) tokens/s were generated",
                    "CounterStale")
            }
            if let cache = sample.kvCacheUsage.usable, cache > busyCache {
                return hold(
                    "request rate: no first token served while the KV cache is \(Int((cache * 100).rounded())) % used",
                    "CounterStale")
            }
        }

        // The request mix, smoothed; a shift makes the learned capacity less certain.
        if rate > 1e-6, let prompt = sample.promptTokenRate.usable, let generated = sample.generatedTokenRate.usable {
            let mix = (prompt: prompt / rate, generated: generated / rate)
            if let oldPrompt = state.promptTokens, let oldGenerated = state.generatedTokens {
                let oldCost = 1 / reference.requestsPerSecond(prompt: oldPrompt, generated: oldGenerated)
                let newCost = 1 / reference.requestsPerSecond(prompt: mix.prompt, generated: mix.generated)
                if abs(newCost - oldCost) > mixShift * oldCost {
                    state.observations = min(state.observations, trustedAfter - 1)
                    state.calmCeiling = nil
                    state.saturatedLoad = nil
                    state.promptTokens = mix.prompt
                    state.generatedTokens = mix.generated
                } else {
                    state.promptTokens = oldPrompt + 0.3 * (mix.prompt - oldPrompt)
                    state.generatedTokens = oldGenerated + 0.3 * (mix.generated - oldGenerated)
                }
            } else {
                state.promptTokens = mix.prompt
                state.generatedTokens = mix.generated
            }
        }
        let referenceRate = reference.requestsPerSecond(state)

        // Queueing: the queue-time histogram where the engine has one, else TTFT against the whole target. The
        // queue histogram's first bucket (vLLM: 0.3 s) is as fine as it sees: below it, TTFT's finer buckets decide.
        let ttft = sample.timeToFirstToken.usable
        var queueing: Double?
        var budget = target * queueShare
        var queued = false
        var calm = false
        if let queue = sample.queueTime.usable {
            queueing = queue
            queued = queue > max(budget, queueResolution) || (budget < queueResolution && (ttft ?? 0) > target)
            calm = queue <= target * calmShare || (queue <= queueResolution && (ttft ?? .infinity) <= target / 2)
        } else if let ttft {
            queueing = ttft
            budget = target
            queued = ttft > target
            calm = ttft <= target / 2
        }
        let tokenLatencyMissed =
            objective.interTokenLatency.flatMap { itl in sample.interTokenLatency.usable.map { $0 > itl.seconds } }
            ?? false

        // Evidence for the capacity estimate. With ready pods that have no request counter (not scraped yet, or no
        // longer) the rate is only a lower bound: nothing is learned from it, and the count may rise, not fall.
        let partial = !sample.silentPods.isEmpty
        let cacheFull = sample.kvCacheUsage.usable.map { $0 > fullCache } ?? false
        if ready > 0, rate > 1e-6, queueing != nil, !partial {
            let load = rate / referenceRate / Double(ready)
            if queued || tokenLatencyMissed {
                let estimate = state.capacity ?? load
                if load <= estimate {
                    // Queueing at a load the estimate says a replica carries: it sustains less, or the traffic comes
                    // in bursts a replica must keep room for. Multiplicative decrease, and probing stays below this
                    // load for a while.
                    state.capacity = min(estimate * decrease, max(load, estimate * 0.7))
                    state.saturatedLoad = load
                } else {
                    // Queueing beyond the estimate says only that the fleet was too small (a burst, a cold start):
                    // the estimate stands, and the override below adds replicas.
                    state.saturatedLoad = min(state.saturatedLoad ?? load, load)
                }
                state.observations += 1
            } else if calm {
                // A load that queued once is forgotten slowly: a burst must not cap the estimate for good.
                state.saturatedLoad = state.saturatedLoad.map { $0 * (1 + saturationForgetting) }
                var capacity = max(state.capacity ?? 1, min(load, (state.saturatedLoad ?? .infinity) * saturatedMargin))
                let ceiling = max(state.calmCeiling ?? 0, load)
                state.calmCeiling = ceiling
                if !cacheFull, load >= 0.8 * capacity / (1 + objective.headroom + (state.extraHeadroom ?? 0)) {
                    var probed = min(capacity * (1 + probeStep), ceiling * probeCeiling)
                    if let saturated = state.saturatedLoad { probed = min(probed, saturated * saturatedMargin) }
                    capacity = max(capacity, probed)
                }
                state.capacity = capacity
                state.observations += 1
            }
        }

        // The error budget: the objective allows `1 - quantile` of first tokens beyond the target. While more than
        // that missed over the horizon, each round that misses now adds headroom (the capacity rules answer the
        // moment; this remembers that the traffic needs more than they keep); within the budget, it is taken back.
        if !partial, rate > 1e-6, let within = sample.withinTarget.usable {
            let served = rate * pollingInterval
            let keep = exp(-pollingInterval / budgetHorizon)
            let requests = (state.recentRequests ?? 0) * keep + served
            let misses = (state.recentMisses ?? 0) * keep + served * (1 - min(within, 1))
            state.recentRequests = requests
            state.recentMisses = misses
            // A percentile says little over few requests: the budget is judged as if `100 / allowed` more had been
            // on time (10,000 for a p99), so the first late minutes of a new workload do not spend it alone.
            let allowed = 1 - objective.timeToFirstToken.quantile
            let spent = misses / (requests + 100 / allowed) / allowed
            var extra = state.extraHeadroom ?? 0
            if spent > 1, 1 - within > allowed {
                extra = min(maxExtraHeadroom, extra + budgetStep)
            } else if spent < 1 {
                extra = max(0, extra - budgetRelax)
            }
            state.extraHeadroom = extra > 0 ? extra : nil
        }

        // The rate history, bounded: a point a minute for the trend, a point a quarter hour for the daily pattern.
        if !partial, state.rates.last.map({ now.timeIntervalSince($0.time) >= 60 }) ?? true {
            state.rates.append(.init(time: now, value: rate))
            if state.rates.count > ratePoints { state.rates.removeFirst(state.rates.count - ratePoints) }
        }
        if !partial, state.daily.last.map({ now.timeIntervalSince($0.time) >= dailySpacing }) ?? true {
            state.daily.append(.init(time: now, value: rate))
            state.daily.removeAll { now.timeIntervalSince($0.time) > dailySpan }
        }

        let (forecast, method) = DemandForecast.forecast(
            current: rate, rates: state.rates, daily: state.daily, lead: lead, now: now)
        let capacity = state.capacity ?? 1
        let perReplica = capacity * referenceRate / (1 + objective.headroom + (state.extraHeadroom ?? 0))
        var recommendation = forecast > 0 ? ScalingDecider.ceilReplicas(forecast / perReplica) : 0
        let trusted = state.observations >= trustedAfter
        if !trusted || partial { recommendation = max(recommendation, current) }

        // The reactive override: a queue beyond its share of the target asks for more at once, as a latency
        // signal does (within the rate policies, and not beyond the pods already loading).
        var overloaded = false
        if let queueing, queued, queueing > budget * 1.1 {
            var wanted = max(
                current, min(ScalingDecider.ceilReplicas(Double(max(ready, 1)) * queueing / budget), upStep))
            if let inFlight = inFlightCapacity { wanted = max(current, min(wanted, inFlight)) }
            if wanted > recommendation {
                recommendation = wanted
                overloaded = true
            }
        }

        let silent = sample.silentPods
        let condition: PolicyCondition =
            partial
            ? .init(
                type: .objectivePlanned, status: .false, reason: "CountersPartial",
                message:
                    "ready pod(s) \(silent.prefix(3).joined(separator: ", "))\(silent.count > 3 ? " and \(silent.count - 3) more" : "") have no request counter: the count may rise, not fall"
            )
            : trusted
                ? .init(
                    type: .objectivePlanned, status: .true, reason: "CapacityLearned",
                    message: "sized from a capacity learned over \(state.observations) round(s)")
                : .init(
                    type: .objectivePlanned, status: .false, reason: "CapacityUnlearned",
                    message: "\(state.observations) of \(trustedAfter) rounds of evidence: the count may rise, not fall"
                )
        return Plan(
            recommendation: recommendation, error: nil, forecast: forecast, perReplica: perReplica,
            overloaded: overloaded,
            status: status(
                state: state, reference: reference, lead: lead, demand: rate, forecast: forecast, method: method),
            condition: condition, state: state)
    }

    /// The p90 of recent cold starts; the configured one (or the unlearned default) before any was seen.
    public static func leadTime(startups: [Double], expected: Double?) -> Double {
        let known = startups.filter { $0 > 0 }.sorted()
        guard !known.isEmpty else { return expected ?? PolicyDefaults.unlearnedStartup }
        let index = min(known.count - 1, Int((0.9 * Double(known.count - 1)).rounded(.up)))
        return known[index]
    }

    static func status(
        state: DecisionHistory.Planner, reference: ReferenceReplica, lead: Double, demand: Double?,
        forecast: Double?, method: String?
    ) -> ObjectiveStatus {
        let perReplica = (state.capacity ?? 1) * reference.requestsPerSecond(state)
        let tokens = (state.promptTokens ?? defaultMix.prompt) + (state.generatedTokens ?? defaultMix.generated)
        return ObjectiveStatus(
            capacityPerReplica: rounded(perReplica), tokensPerSecondPerReplica: rounded(perReplica * tokens),
            capacitySource: state.observations >= trustedAfter ? "Learned" : "Prior", leadTimeSeconds: rounded(lead),
            demand: demand.map(rounded), forecast: forecast.map(rounded), forecastMethod: method,
            attainmentPercent: state.recentRequests.flatMap { requests in
                guard requests > 0 else { return nil }
                // Two decimals: 99.x is what matters against a p99.
                return ((1 - (state.recentMisses ?? 0) / requests) * 10_000).rounded() / 100
            },
            extraHeadroomPercent: state.extraHeadroom.map { ($0 * 1000).rounded() / 10 })
    }

    /// Three significant digits: status is for people, and exact floats would make every round a write.
    static func rounded(_ value: Double) -> Double {
        guard value.isFinite, value != 0 else { return value }
        let magnitude = pow(10, (log10(abs(value))).rounded(.down) - 2)
        return (value / magnitude).rounded() * magnitude
    }
}

/// Demand one lead time ahead from the rate history: the recent trend, and the daily pattern once a day of history
/// exists. Never below the present rate: a forecast may order capacity early, not take it away early.
public enum DemandForecast {
    public static func forecast(
        current: Double, rates: [DecisionHistory.RatePoint], daily: [DecisionHistory.RatePoint], lead: Double,
        now: Date
    ) -> (Double, String) {
        var best = current
        var method = "Current"
        if let slope = trendSlope(rates, now: now), slope > 0 {
            let trend = current + slope * lead
            if trend > best {
                best = trend
                method = "Trend"
            }
        }
        if let ratio = dailyRatio(daily, lead: lead, now: now), ratio > 1 {
            let daily = current * ratio
            if daily > best {
                best = daily
                method = "Daily"
            }
        }
        return (best, method)
    }

    /// Least-squares slope (per second) over the points of the last ten minutes; nil with fewer than three.
    static func trendSlope(_ rates: [DecisionHistory.RatePoint], now: Date) -> Double? {
        let recent = rates.filter { now.timeIntervalSince($0.time) <= ObjectivePlanner.trendWindow }
        guard recent.count >= 3 else { return nil }
        let xs = recent.map { $0.time.timeIntervalSince(now) }
        let ys = recent.map(\.value)
        let meanX = xs.reduce(0, +) / Double(xs.count)
        let meanY = ys.reduce(0, +) / Double(ys.count)
        var numerator = 0.0
        var denominator = 0.0
        for (x, y) in zip(xs, ys) {
            numerator += (x - meanX) * (y - meanY)
            denominator += (x - meanX) * (x - meanX)
        }
        guard denominator > 0 else { return nil }
        return numerator / denominator
    }

    /// Yesterday's rate one lead time later over yesterday's rate now, bounded to [0.5, 3]; nil without a day of
    /// history around both moments.
    static func dailyRatio(_ daily: [DecisionHistory.RatePoint], lead: Double, now: Date) -> Double? {
        let day = 86_400.0
        guard let first = daily.first, now.timeIntervalSince(first.time) >= day else { return nil }
        func value(at time: Date) -> Double? {
            guard
                let nearest = daily.min(by: {
                    abs($0.time.timeIntervalSince(time)) < abs($1.time.timeIntervalSince(time))
                }),
                abs(nearest.time.timeIntervalSince(time)) <= ObjectivePlanner.dailySpacing
            else { return nil }
            return nearest.value
        }
        // The quarter-hour points either side of the lead: the larger, as a ramp may start within the bin.
        guard let then = value(at: now.addingTimeInterval(-day)), then > 0,
            let ahead = value(at: now.addingTimeInterval(-day + max(lead, ObjectivePlanner.dailySpacing)))
        else { return nil }
        return min(3, max(0.5, ahead / then))
    }
}
