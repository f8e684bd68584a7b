import AutoscalerCore
import Foundation
import KubernetesModel

/// Our controller in the simulator: the same pure decision, fed what Prometheus and the API server would show, with
/// the history carried from round to round as the reconciler carries it.
public struct PolicyScaler: FleetScaler {
    public let policy: ResolvedPolicy
    /// Wall-clock time of the simulation's second 0 (cron schedules are evaluated against it).
    public let epoch: Date
    public private(set) var history = DecisionHistory()
    public var name: String { "\(policy.namespace)/\(policy.name)" }
    public var syncPeriod: Double { policy.pollingInterval }
    public var initialReplicas: Int

    public init(
        policy: ResolvedPolicy, initialReplicas: Int? = nil, epoch: Date = Date(timeIntervalSince1970: 1_700_000_000)
    ) {
        self.policy = policy
        self.epoch = epoch
        self.initialReplicas = min(policy.maxReplicas, max(policy.minReplicas, initialReplicas ?? 1))
    }

    public mutating func sync(_ observation: FleetObservation) -> (replicas: Int, reason: String) {
        let now = epoch.addingTimeInterval(observation.time)
        let pods = observation.pods.enumerated().map { index, pod in
            ObservedPod(
                name: "pod-\(index)", createdAt: epoch.addingTimeInterval(pod.createdAt), ready: pod.readyAt != nil,
                readySince: pod.readyAt.map { epoch.addingTimeInterval($0) })
        }
        let observed = ObservedScale(
            desiredReplicas: observation.desiredReplicas, currentReplicas: observation.pods.count,
            readyReplicas: observation.readyReplicas, pods: pods)
        let samples = policy.signals.map { Self.sample($0, observation: observation) }
        let workload = policy.objective.map { Self.workload($0, observation: observation) }
        let decision = ScalingDecider.decide(
            policy: policy, observed: observed, samples: samples, history: history, workload: workload, now: now)
        history = decision.history
        return (decision.desiredReplicas, decision.limitedBy.description)
    }

    /// What `PrometheusSignalSource` reads for the objective planner: fleet rates and latency quantiles over a minute.
    static func workload(_ objective: ResolvedPolicy.Objective, observation: FleetObservation) -> WorkloadSample {
        if observation.pods.isEmpty { return WorkloadSample(requestRate: .value(0)) }
        let metrics = observation.metrics
        let window = PolicyDefaults.rateWindow
        func sample(_ value: Double?) -> SignalSample { value.map(SignalSample.value) ?? .missing("no data") }
        let requests = sample(metrics.rate(.requests, window: window))
        func latency(_ value: Double?) -> SignalSample { sample(value).latency(servedRate: requests) }
        let quantile = objective.timeToFirstToken.quantile
        return WorkloadSample(
            requestRate: requests, promptTokenRate: sample(metrics.rate(.promptTokens, window: window)),
            generatedTokenRate: sample(metrics.rate(.generatedTokens, window: window)),
            queueTime: latency(metrics.queueTimeQuantile(quantile, window: window)),
            timeToFirstToken: latency(metrics.ttftQuantile(quantile, window: window)),
            interTokenLatency: .missing("not simulated"), kvCacheUsage: sample(metrics.gauge(.kvUsage, .avg)),
            withinTarget: sample(metrics.ttftShare(atOrBelow: objective.timeToFirstToken.seconds, window: window)))
    }

    /// What `PrometheusSignalSource` would read for one signal (the engine presets' queries, evaluated on the
    /// simulated scrapes).
    static func sample(_ signal: ResolvedPolicy.Signal, observation: FleetObservation) -> SignalSample {
        // With no pods nothing waits at or runs on a pod: presets read 0, as in the controller.
        if observation.pods.isEmpty && !signal.type.existsWithoutPods { return .value(0) }
        let metrics = observation.metrics
        let aggregate: PrometheusView.Aggregate = signal.targetType == .value ? .sum : .avg
        let window = signal.window ?? PolicyDefaults.rateWindow
        let value: Double?
        switch signal.type {
        case .queueDepth: value = metrics.gauge(.waiting, aggregate)
        case .runningRequests: value = metrics.gauge(.running, aggregate)
        case .kvCacheUtilization: value = metrics.gauge(.kvUsage, aggregate)
        case .gpuUtilization: value = metrics.gauge(.gpuUtilization, aggregate)
        case .gpuMemoryCopyUtilization, .gpuFramebufferUsed, .gpuPower:
            return .missing("only GPU utilization is simulated of DCGM's fields")
        case .tokenThroughput:
            value = metrics.rate(.generatedTokens, window: window).flatMap { rate in
                guard aggregate == .avg else { return rate }
                guard let pods = metrics.latest?.readyPods, pods > 0 else { return nil }
                return rate / Double(pods)
            }
        case .timeToFirstToken:
            guard let quantile = metrics.ttftQuantile(signal.quantile ?? PolicyDefaults.quantile, window: window) else {
                return .missing("no data")
            }
            if quantile.isNaN {
                // No first token in the window: with no requests there was no latency to miss.
                let served = metrics.rate(.requests, window: window).map(SignalSample.value) ?? .missing("no data")
                return SignalSample.value(quantile).latency(servedRate: served)
            }
            value = quantile
        case .custom:
            return .missing("Custom queries are not simulated")
        case .gatewayQueueDepth, .gatewaySaturation, .gatewayRunningRequests:
            return .missing("the inference gateway is not simulated")
        }
        return value.map(SignalSample.value) ?? .missing("no data")
    }
}
