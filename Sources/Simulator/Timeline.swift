import Foundation

/// The fleet over one interval of the simulation, for the chart and `--timeline`.
public struct TimelinePoint: Sendable, Equatable, Codable {
    /// Start of the interval, seconds since the start of the simulation.
    public var time: Double
    /// Requests per second that arrived in the interval.
    public var load: Double
    /// Requests waiting at the end of the interval.
    public var waiting: Double
    /// The scaler's replica count at the end of the interval.
    public var desired: Int
    /// Ready pods at the end of the interval.
    public var ready: Int
    /// Pods holding GPUs at the end of the interval (starting, ready, draining).
    public var pods: Int
    /// TTFT p95 of the requests that got their first token in the interval; nil when none did.
    public var ttftP95: Double?
    /// What decided the last sync of the interval.
    public var reason: String
    /// Requests that got their first token in the interval later than the SLO.
    public var missed: Double

    public init(
        time: Double, load: Double, waiting: Double, desired: Int, ready: Int, pods: Int, ttftP95: Double?,
        reason: String, missed: Double = 0
    ) {
        self.missed = missed
        self.time = time
        self.load = load
        self.waiting = waiting
        self.desired = desired
        self.ready = ready
        self.pods = pods
        self.ttftP95 = ttftP95
        self.reason = reason
    }
}
