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

    public var recommendations: [Recommendation]
    public var scaleEvents: [ScaleEvent]
    /// Rounds in a row in which no signal could be read.
    public var consecutiveFailures: Int
    /// Since when every signal has been at or below its activation value.
    public var idleSince: Date?
    /// Median seconds from creation to Ready of recently observed pods.
    public var learnedStartupSeconds: Double?

    public init(
        recommendations: [Recommendation] = [], scaleEvents: [ScaleEvent] = [], consecutiveFailures: Int = 0,
        idleSince: Date? = nil, learnedStartupSeconds: Double? = nil
    ) {
        self.recommendations = recommendations
        self.scaleEvents = scaleEvents
        self.consecutiveFailures = consecutiveFailures
        self.idleSince = idleSince
        self.learnedStartupSeconds = learnedStartupSeconds
    }

    private enum CodingKeys: String, CodingKey {
        case recommendations, scaleEvents, consecutiveFailures, idleSince, learnedStartupSeconds
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        recommendations = try container.decodeIfPresent([Recommendation].self, forKey: .recommendations) ?? []
        scaleEvents = try container.decodeIfPresent([ScaleEvent].self, forKey: .scaleEvents) ?? []
        consecutiveFailures = try container.decodeIfPresent(Int.self, forKey: .consecutiveFailures) ?? 0
        idleSince = try container.decodeTimeIfPresent(forKey: .idleSince)
        learnedStartupSeconds = try container.decodeIfPresent(Double.self, forKey: .learnedStartupSeconds)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(recommendations, forKey: .recommendations)
        try container.encode(scaleEvents, forKey: .scaleEvents)
        try container.encode(consecutiveFailures, forKey: .consecutiveFailures)
        try container.encodeTimeIfPresent(idleSince, forKey: .idleSince)
        try container.encodeIfPresent(learnedStartupSeconds, forKey: .learnedStartupSeconds)
    }
}
