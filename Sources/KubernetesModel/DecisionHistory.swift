import Foundation

/// The decision's memory between rounds. Small and bounded: recommendations older than the longest stabilization
/// window, and ones that can no longer be a window's minimum or maximum, are dropped; scale events older than the
/// longest rate-policy period are dropped.
public struct DecisionHistory: Codable, Sendable, Equatable {
    public struct Recommendation: Codable, Sendable, Equatable {
        @RFC3339 public var time: Date
        public var replicas: Int

        public init(time: Date, replicas: Int) {
            self.time = time
            self.replicas = replicas
        }
    }

    public struct ScaleEvent: Codable, Sendable, Equatable {
        @RFC3339 public var time: Date
        /// Replicas added (positive) or removed (negative).
        public var change: Int

        public init(time: Date, change: Int) {
            self.time = time
            self.change = change
        }
    }

    /// One measured value at a time (a request rate).
    public struct RatePoint: Codable, Sendable, Equatable {
        @RFC3339 public var time: Date
        public var value: Double

        public init(time: Date, value: Double) {
            self.time = time
            self.value = value
        }
    }

    /// What the objective planner has learned about the workload (`spec.objective`).
    public struct Planner: Codable, Sendable, Equatable {
        /// What one ready replica sustains within the objective, in multiples of the engine preset's reference
        /// replica (whose requests per second follow from the request mix); nil until anything is known.
        public var capacity: Double?
        /// The highest per-replica load (same unit) seen served within the objective: probing never raises the
        /// capacity far beyond what was observed.
        public var calmCeiling: Double?
        /// The lowest per-replica load (same unit) at which requests queued beyond the objective's share: the
        /// estimate stays below it until the request mix changes.
        public var saturatedLoad: Double?
        /// Rounds of evidence behind `capacity`.
        public var observations: Int
        /// Mean prompt and generated tokens per request over the last rounds with traffic.
        public var promptTokens: Double?
        public var generatedTokens: Double?
        /// The fleet's request rate, one point per minute, newest last (the trend).
        public var rates: [RatePoint]
        /// One point per quarter hour over the last day and a bit (the daily pattern).
        public var daily: [RatePoint]
        /// First tokens served, and those of them beyond the TTFT target, decayed over the error budget's horizon.
        public var recentRequests: Double?
        public var recentMisses: Double?
        /// Headroom added to the configured one while the error budget is overspent (0.5: 50 points).
        public var extraHeadroom: Double?

        public init(
            capacity: Double? = nil, calmCeiling: Double? = nil, saturatedLoad: Double? = nil, observations: Int = 0,
            promptTokens: Double? = nil,
            generatedTokens: Double? = nil, rates: [RatePoint] = [], daily: [RatePoint] = [],
            recentRequests: Double? = nil, recentMisses: Double? = nil, extraHeadroom: Double? = nil
        ) {
            self.capacity = capacity
            self.calmCeiling = calmCeiling
            self.saturatedLoad = saturatedLoad
            self.observations = observations
            self.promptTokens = promptTokens
            self.generatedTokens = generatedTokens
            self.rates = rates
            self.daily = daily
            self.recentRequests = recentRequests
            self.recentMisses = recentMisses
            self.extraHeadroom = extraHeadroom
        }

        private enum CodingKeys: String, CodingKey {
            case capacity, calmCeiling, saturatedLoad, observations, promptTokens, generatedTokens, rates, daily
            case recentRequests, recentMisses, extraHeadroom
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            capacity = try container.decodeIfPresent(Double.self, forKey: .capacity)
            calmCeiling = try container.decodeIfPresent(Double.self, forKey: .calmCeiling)
            saturatedLoad = try container.decodeIfPresent(Double.self, forKey: .saturatedLoad)
            observations = try container.decodeIfPresent(Int.self, forKey: .observations) ?? 0
            promptTokens = try container.decodeIfPresent(Double.self, forKey: .promptTokens)
            generatedTokens = try container.decodeIfPresent(Double.self, forKey: .generatedTokens)
            rates = try container.decodeIfPresent([RatePoint].self, forKey: .rates) ?? []
            daily = try container.decodeIfPresent([RatePoint].self, forKey: .daily) ?? []
            recentRequests = try container.decodeIfPresent(Double.self, forKey: .recentRequests)
            recentMisses = try container.decodeIfPresent(Double.self, forKey: .recentMisses)
            extraHeadroom = try container.decodeIfPresent(Double.self, forKey: .extraHeadroom)
        }
    }

    public var recommendations: [Recommendation]
    public var scaleEvents: [ScaleEvent]
    /// Rounds in a row in which no signal could be read.
    public var consecutiveFailures: Int
    /// Since when every signal has been at or below its activation value.
    public var idleSince: Date?
    /// Median seconds from creation to Ready of recently observed pods.
    public var learnedStartupSeconds: Double?
    /// Only for policies with `spec.objective`.
    public var planner: Planner?

    public init(
        recommendations: [Recommendation] = [], scaleEvents: [ScaleEvent] = [], consecutiveFailures: Int = 0,
        idleSince: Date? = nil, learnedStartupSeconds: Double? = nil, planner: Planner? = nil
    ) {
        self.recommendations = recommendations
        self.scaleEvents = scaleEvents
        self.consecutiveFailures = consecutiveFailures
        self.idleSince = idleSince
        self.learnedStartupSeconds = learnedStartupSeconds
        self.planner = planner
    }

    private enum CodingKeys: String, CodingKey {
        case recommendations, scaleEvents, consecutiveFailures, idleSince, learnedStartupSeconds, planner
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        recommendations = try container.decodeIfPresent([Recommendation].self, forKey: .recommendations) ?? []
        scaleEvents = try container.decodeIfPresent([ScaleEvent].self, forKey: .scaleEvents) ?? []
        consecutiveFailures = try container.decodeIfPresent(Int.self, forKey: .consecutiveFailures) ?? 0
        idleSince = try container.decodeTimeIfPresent(forKey: .idleSince)
        learnedStartupSeconds = try container.decodeIfPresent(Double.self, forKey: .learnedStartupSeconds)
        planner = try container.decodeIfPresent(Planner.self, forKey: .planner)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(recommendations, forKey: .recommendations)
        try container.encode(scaleEvents, forKey: .scaleEvents)
        try container.encode(consecutiveFailures, forKey: .consecutiveFailures)
        try container.encodeTimeIfPresent(idleSince, forKey: .idleSince)
        try container.encodeIfPresent(learnedStartupSeconds, forKey: .learnedStartupSeconds)
        try container.encodeIfPresent(planner, forKey: .planner)
    }
}
