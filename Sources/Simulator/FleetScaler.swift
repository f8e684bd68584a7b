import Foundation

/// One pod of the simulated target as the Kubernetes API would show it.
public struct PodView: Sendable, Equatable {
    /// Seconds since the start of the simulation.
    public var createdAt: Double
    /// When the pod became Ready; nil while it loads.
    public var readyAt: Double?

    public init(createdAt: Double, readyAt: Double?) {
        self.createdAt = createdAt
        self.readyAt = readyAt
    }
}

/// What a scaler sees at a sync: the target's `/scale` and pods, and what Prometheus serves.
public struct FleetObservation {
    /// Seconds since the start of the simulation.
    public var time: Double
    /// `spec.replicas`: what the last sync asked for.
    public var desiredReplicas: Int
    public var readyReplicas: Int
    /// Pods that exist and are not terminating (starting and ready).
    public var pods: [PodView]
    public var metrics: PrometheusView

    public init(time: Double, desiredReplicas: Int, readyReplicas: Int, pods: [PodView], metrics: PrometheusView) {
        self.time = time
        self.desiredReplicas = desiredReplicas
        self.readyReplicas = readyReplicas
        self.pods = pods
        self.metrics = metrics
    }
}

/// The fleet's engine gauges at one instant, summed over ready pods (what a per-second stats scrape, such as
/// Knative's queue-proxy, reports).
public struct FleetGauges: Sendable, Equatable {
    public var time: Double
    public var readyPods: Int
    /// Requests waiting for a slot (the gateway's queue, counted as the pods' `num_requests_waiting`).
    public var waiting: Double
    /// Requests being served (`num_requests_running`).
    public var running: Double
    /// Sum over ready pods of the KV-cache fraction in use (0–1 each).
    public var kvUsageSum: Double

    public init(time: Double, readyPods: Int, waiting: Double, running: Double, kvUsageSum: Double) {
        self.time = time
        self.readyPods = readyPods
        self.waiting = waiting
        self.running = running
        self.kvUsageSum = kvUsageSum
    }

    /// Requests in flight: what a concurrency-based autoscaler counts (waiting at the pods plus being served).
    public var concurrency: Double { waiting + running }
}

/// An autoscaler under test: ours (`PolicyScaler`) or a baseline.
public protocol FleetScaler {
    var name: String { get }
    /// Seconds between syncs.
    var syncPeriod: Double { get }
    /// Seconds between `sample` calls, for scalers that collect their own stats (nil: none).
    var sampleInterval: Double? { get }
    /// Replicas to create before the first sync.
    var initialReplicas: Int { get }
    mutating func sample(_ gauges: FleetGauges)
    /// The replica count to set on the target's `/scale`, and what decided it.
    mutating func sync(_ observation: FleetObservation) -> (replicas: Int, reason: String)
}

extension FleetScaler {
    public var sampleInterval: Double? { nil }
    public mutating func sample(_ gauges: FleetGauges) {}
}
