import Foundation
import KubernetesModel
import Metrics
import Prometheus
import Synchronization

/// The controller's own metrics (swift-metrics on a swift-prometheus registry of its own, so that several
/// controllers in one test process do not share series), served at `/metrics` in the Prometheus text format.
public final class ControllerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    /// Per policy (`namespace/name`): the label sets of its gauges, so that they go when the policy goes.
    private let policySeries = Mutex<[String: Set<[String]>]>([:])

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        let fast: [Duration] = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
            .seconds(10), .seconds(30),
        ]
        for name in [
            "inference_autoscaler_reconcile_duration_seconds",
            "inference_autoscaler_kubernetes_request_duration_seconds",
            "inference_autoscaler_prometheus_query_duration_seconds",
        ] {
            factory.durationHistogramBuckets[name] = fast
        }
        self.factory = factory
    }

    /// The text `/metrics` serves.
    public func text() -> String {
        registry.emitToString()
    }

    /// One reconcile: `success`, `error`, `invalid`, `conflict` or `paused`.
    public func reconciled(result: String, seconds: Double) {
        Counter(label: "inference_autoscaler_reconciles_total", dimensions: [("result", result)], factory: factory)
            .increment()
        Timer(label: "inference_autoscaler_reconcile_duration_seconds", factory: factory)
            .recordNanoseconds(Int64(seconds * 1e9))
    }

    public func queueDepth(_ depth: Int, policies: Int) {
        Gauge(label: "inference_autoscaler_workqueue_depth", factory: factory).record(depth)
        Gauge(label: "inference_autoscaler_policies", factory: factory).record(policies)
    }

    /// One answered Kubernetes API request: its verb, status code (or `error`) and latency.
    public func kubernetesRequest(verb: String, code: String, seconds: Double) {
        Counter(
            label: "inference_autoscaler_kubernetes_requests_total", dimensions: [("verb", verb), ("code", code)],
            factory: factory
        ).increment()
        Timer(
            label: "inference_autoscaler_kubernetes_request_duration_seconds", dimensions: [("verb", verb)],
            factory: factory
        )
        .recordNanoseconds(Int64(seconds * 1e9))
    }

    /// One Prometheus query: whether it gave an answer, and its latency.
    public func prometheusQuery(succeeded: Bool, seconds: Double) {
        Counter(
            label: "inference_autoscaler_prometheus_queries_total",
            dimensions: [("result", succeeded ? "success" : "error")], factory: factory
        ).increment()
        Timer(label: "inference_autoscaler_prometheus_query_duration_seconds", factory: factory)
            .recordNanoseconds(Int64(seconds * 1e9))
    }

    public func leader(_ isLeader: Bool) {
        Gauge(label: "inference_autoscaler_leader", factory: factory).record(isLeader ? 1 : 0)
    }

    /// A policy's replica counts and each signal's value and target after a reconcile.
    func policy(
        namespace: String, name: String, current: Int, desired: Int, min: Int, max: Int, signals: [SignalStatus],
        shadow: ShadowStatus? = nil
    ) {
        var series: Set<[String]> = []
        func gauge(_ label: String, _ extra: [(String, String)], _ value: Double?) {
            let dimensions = [("namespace", namespace), ("policy", name)] + extra
            series.insert([label] + extra.flatMap { [$0.0, $0.1] })
            let gauge = Gauge(label: label, dimensions: dimensions, factory: factory)
            // A signal that could not be read shows as NaN rather than as its last value.
            gauge.record(value ?? .nan)
        }
        gauge("inference_autoscaler_policy_current_replicas", [], Double(current))
        gauge("inference_autoscaler_policy_desired_replicas", [], Double(desired))
        gauge("inference_autoscaler_policy_min_replicas", [], Double(min))
        gauge("inference_autoscaler_policy_max_replicas", [], Double(max))
        gauge("inference_autoscaler_policy_shadow", [], shadow == nil ? 0 : 1)
        if let shadow {
            // Since status.shadow.since: what the shadow would have run against what the workload ran.
            gauge("inference_autoscaler_shadow_replica_seconds", [], shadow.replicaSeconds)
            gauge("inference_autoscaler_shadow_live_replica_seconds", [], shadow.liveReplicaSeconds)
            gauge("inference_autoscaler_shadow_below_live_seconds", [], shadow.belowLiveSeconds)
            gauge("inference_autoscaler_shadow_observed_seconds", [], shadow.observedSeconds)
        }
        for signal in signals {
            let label = [("signal", signal.name ?? signal.type)]
            gauge("inference_autoscaler_policy_signal_value", label, signal.value)
            gauge("inference_autoscaler_policy_signal_target", label, signal.target)
        }
        let stale = policySeries.withLock { all in
            defer { all["\(namespace)/\(name)"] = series }
            return (all["\(namespace)/\(name)"] ?? []).subtracting(series)
        }
        for key in stale { destroy(namespace: namespace, name: name, key: key) }
    }

    /// Removes a deleted policy's series.
    func forget(namespace: String, name: String) {
        let keys = policySeries.withLock { $0.removeValue(forKey: "\(namespace)/\(name)") } ?? []
        for key in keys { destroy(namespace: namespace, name: name, key: key) }
    }

    private func destroy(namespace: String, name: String, key: [String]) {
        var extra: [(String, String)] = []
        var index = 1
        while index + 1 < key.count {
            extra.append((key[index], key[index + 1]))
            index += 2
        }
        Gauge(label: key[0], dimensions: [("namespace", namespace), ("policy", name)] + extra, factory: factory)
            .destroy()
    }
}
