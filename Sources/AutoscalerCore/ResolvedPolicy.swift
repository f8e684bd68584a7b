import Foundation
import KubernetesModel

/// The serving engine whose metric names the presets use.
public enum Engine: String, Sendable, Codable, CaseIterable {
    case vllm, tgi, sglang, nim, trtllm, custom
}

public enum SignalType: String, Sendable, Codable, CaseIterable {
    /// Waiting requests.
    case queueDepth = "QueueDepth"
    /// Requests in the running batch (how busy a replica is, even with nobody waiting).
    case runningRequests = "RunningRequests"
    /// A latency SLO signal: only ever asks for more replicas.
    case timeToFirstToken = "TimeToFirstToken"
    /// KV-cache use, 0–1.
    case kvCacheUtilization = "KVCacheUtilization"
    /// DCGM GPU utilization, 0–100, per GPU.
    case gpuUtilization = "GPUUtilization"
    /// DCGM memory-copy (bandwidth) utilization, 0–100, per GPU: decode is bound by it.
    case gpuMemoryCopyUtilization = "GPUMemoryCopyUtilization"
    /// DCGM framebuffer used, MiB per GPU (flat for engines that reserve their KV cache at start, as vLLM does).
    case gpuFramebufferUsed = "GPUFramebufferUsed"
    /// DCGM power draw, watts per GPU.
    case gpuPower = "GPUPower"
    /// Generated tokens per second.
    case tokenThroughput = "TokenThroughput"
    /// Requests the inference gateway's endpoint picker holds in flow control for the pool: a fleet total that exists
    /// while no pod does.
    case gatewayQueueDepth = "GatewayQueueDepth"
    /// The endpoint picker's saturation of the pool, 0–1 and more when it holds requests back.
    case gatewaySaturation = "GatewaySaturation"
    /// Requests running per endpoint of the pool, as the endpoint picker averages them.
    case gatewayRunningRequests = "GatewayRunningRequests"
    case custom = "Custom"

    /// Read from the DCGM exporter, one series per GPU, joined to the target's pods.
    public var isGPU: Bool {
        self == .gpuUtilization || self == .gpuMemoryCopyUtilization || self == .gpuFramebufferUsed || self == .gpuPower
    }

    /// Read from the inference gateway's endpoint picker (llm-d, Gateway API Inference Extension) for an
    /// InferencePool, not from the model servers' pods.
    public var isGateway: Bool {
        self == .gatewayQueueDepth || self == .gatewaySaturation || self == .gatewayRunningRequests
    }

    /// Signals whose series exist while the target has no pod: they can bring it back from zero.
    public var existsWithoutPods: Bool { self == .custom || self == .gatewayQueueDepth || self == .gatewaySaturation }

    /// Fleet totals: only `targetType: Value` fits them.
    public var isFleetTotal: Bool { self == .gatewayQueueDepth }

    /// Per-replica measures: only `targetType: AverageValue` fits them.
    public var isPerReplica: Bool {
        isGPU || [.timeToFirstToken, .kvCacheUtilization, .gatewaySaturation, .gatewayRunningRequests].contains(self)
    }

    /// Latency measures quality, not load: it scales up when over target and never votes for fewer replicas.
    public var isLatency: Bool { self == .timeToFirstToken }

    /// Signals that grow with a backlog while new pods load, and so would order the same capacity twice.
    public var growsDuringColdStart: Bool {
        self == .queueDepth || self == .timeToFirstToken || self == .gatewayQueueDepth
    }

    /// Signals that measure in-flight work against what the replicas hold, so they can size a scale-down: an empty
    /// queue says only that the fleet keeps up, not by how much.
    public var measuresBusyness: Bool {
        [
            .kvCacheUtilization, .runningRequests, .gpuUtilization, .gpuMemoryCopyUtilization, .gpuPower,
            .tokenThroughput, .gatewaySaturation, .gatewayRunningRequests,
        ]
        .contains(self)
    }
}

public enum TargetType: String, Sendable, Codable, CaseIterable {
    /// The value is an average per ready replica: `ceil(ready × value / target)`.
    case averageValue = "AverageValue"
    /// The value is a fleet total: `ceil(value / target)`.
    case value = "Value"
}

public enum SelectPolicy: String, Sendable, Codable, CaseIterable {
    case max = "Max", min = "Min", disabled = "Disabled"
}

public enum ScalingPolicyType: String, Sendable, Codable, CaseIterable {
    case pods = "Pods", percent = "Percent"
}

/// A policy with every default applied and every field checked: what the decision works on.
public struct ResolvedPolicy: Sendable, Equatable {
    public struct Signal: Sendable, Equatable {
        public var type: SignalType
        /// Seconds for `TimeToFirstToken`; the metric's own unit otherwise.
        public var target: Double
        public var targetType: TargetType
        public var activation: Double
        public var quantile: Double?
        public var query: String?
        /// `rate()` window in seconds for rate- and histogram-based signals.
        public var window: Double?
        /// How status and `limitedBy` name it: the type, with its index when several Custom signals exist.
        public var name: String
        /// The InferencePool the gateway types read (the target's name unless given).
        public var pool: String?

        public init(
            type: SignalType, target: Double, targetType: TargetType = .averageValue, activation: Double = 0,
            quantile: Double? = nil, query: String? = nil, window: Double? = nil, name: String? = nil,
            pool: String? = nil
        ) {
            self.pool = pool
            self.type = type
            self.target = target
            self.targetType = targetType
            self.activation = activation
            self.quantile = quantile
            self.query = query
            self.window = window
            self.name = name ?? type.rawValue
        }
    }

    public struct Schedule: Sendable, Equatable {
        public var name: String
        public var timeZone: TimeZone
        public var start: CronSchedule
        public var end: CronSchedule
        public var minReplicas: Int

        public init(name: String, timeZone: TimeZone, start: CronSchedule, end: CronSchedule, minReplicas: Int) {
            self.name = name
            self.timeZone = timeZone
            self.start = start
            self.end = end
            self.minReplicas = minReplicas
        }
    }

    public struct ScalingPolicy: Sendable, Equatable {
        public var type: ScalingPolicyType
        public var value: Int
        /// Seconds.
        public var period: Double

        public init(type: ScalingPolicyType, value: Int, period: Double) {
            self.type = type
            self.value = value
            self.period = period
        }
    }

    public struct ScalingRules: Sendable, Equatable {
        /// Seconds.
        public var stabilizationWindow: Double
        public var policies: [ScalingPolicy]
        public var selectPolicy: SelectPolicy

        public init(stabilizationWindow: Double, policies: [ScalingPolicy], selectPolicy: SelectPolicy = .max) {
            self.stabilizationWindow = stabilizationWindow
            self.policies = policies
            self.selectPolicy = selectPolicy
        }
    }

    public struct Behavior: Sendable, Equatable {
        public var tolerance: Double
        public var scaleUp: ScalingRules
        public var scaleDown: ScalingRules

        public init(tolerance: Double, scaleUp: ScalingRules, scaleDown: ScalingRules) {
            self.tolerance = tolerance
            self.scaleUp = scaleUp
            self.scaleDown = scaleDown
        }
    }

    public struct Prometheus: Sendable, Equatable {
        public var address: String?
        public var timeout: Double
        public var spec: PrometheusSpec

        public init(address: String?, timeout: Double, spec: PrometheusSpec = PrometheusSpec()) {
            self.address = address
            self.timeout = timeout
            self.spec = spec
        }
    }

    public struct Fallback: Sendable, Equatable {
        public var replicas: Int
        public var afterFailures: Int

        public init(replicas: Int, afterFailures: Int) {
            self.replicas = replicas
            self.afterFailures = afterFailures
        }
    }

    /// A latency that a share of requests must meet.
    public struct LatencyTarget: Sendable, Equatable {
        /// 0–1 (0.99 for p99).
        public var quantile: Double
        /// Seconds.
        public var seconds: Double

        public init(quantile: Double, seconds: Double) {
            self.quantile = quantile
            self.seconds = seconds
        }
    }

    /// `spec.objective`: the fleet is sized from learned capacity and forecast demand to keep these.
    public struct Objective: Sendable, Equatable {
        public var timeToFirstToken: LatencyTarget
        public var interTokenLatency: LatencyTarget?
        /// Capacity kept above the forecast, as a fraction of it.
        public var headroom: Double

        public init(
            timeToFirstToken: LatencyTarget, interTokenLatency: LatencyTarget? = nil,
            headroom: Double = PolicyDefaults.headroom
        ) {
            self.timeToFirstToken = timeToFirstToken
            self.interTokenLatency = interTokenLatency
            self.headroom = headroom
        }
    }

    public enum DisruptionBudget: Sendable, Equatable {
        case maxUnavailable(IntOrString)
        case minAvailable(IntOrString)
    }

    public struct Target: Sendable, Equatable, Hashable {
        public var apiVersion: String
        public var kind: String
        public var name: String

        public init(apiVersion: String, kind: String, name: String) {
            self.apiVersion = apiVersion
            self.kind = kind
            self.name = name
        }
    }

    // Defaults as the validator applies them: the memberwise initializer (internal; tests reach it with
    // `@testable import`) takes only what differs.
    public var namespace = "default"
    public var name = "policy"
    public var target = Target(apiVersion: "apps/v1", kind: "Deployment", name: "model")
    public var minReplicas = 1
    public var maxReplicas: Int
    /// Seconds.
    public var pollingInterval = PolicyDefaults.pollingInterval
    public var engine = Engine.vllm
    public var prometheus = Prometheus(address: nil, timeout: PolicyDefaults.prometheusTimeout)
    public var objective: Objective? = nil
    /// With an objective, safety floors that only ever add replicas to the planner's count (none by default).
    public var signals = PolicyDefaults.signals
    public var schedules: [Schedule] = []
    public var behavior = PolicyDefaults.behavior
    /// Seconds every signal must stay at or below activation before going to zero; nil when `minReplicas > 0`.
    public var scaleToZeroIdleFor: Double?
    /// Seconds from creation to Ready when the user gave it; otherwise learned (see `DecisionHistory`).
    public var expectedStartup: Double?
    public var fallback: Fallback?
    public var disruptionBudget: DisruptionBudget?
    public var paused = false
    /// Shadow: decide and report, write nothing to the target.
    public var shadow = false
}

/// Every default, in one place. The CRD schema carries the same values.
public enum PolicyDefaults {
    public static let minReplicas = 1
    public static let pollingInterval = 15.0
    public static let engine = Engine.vllm
    public static let prometheusTimeout = 5.0
    public static let tolerance = 0.1
    public static let scaleUp = ResolvedPolicy.ScalingRules(
        stabilizationWindow: 0,
        policies: [.init(type: .pods, value: 4, period: 15), .init(type: .percent, value: 100, period: 15)],
        selectPolicy: .max)
    public static let scaleDown = ResolvedPolicy.ScalingRules(
        stabilizationWindow: 300, policies: [.init(type: .pods, value: 1, period: 120)], selectPolicy: .max)
    public static let behavior = ResolvedPolicy.Behavior(tolerance: tolerance, scaleUp: scaleUp, scaleDown: scaleDown)
    /// With no signals given: waiting requests, 5 per ready replica.
    public static let signals = [ResolvedPolicy.Signal(type: .queueDepth, target: 5)]
    public static let scaleToZeroIdleFor = 600.0
    public static let fallbackAfterFailures = 3
    public static let scheduleTimeZone = "UTC"
    public static let quantile = 0.95
    public static let rateWindow = 60.0
    /// Cold start assumed before any pod has been seen becoming Ready.
    public static let unlearnedStartup = 120.0
    /// `spec.objective`: the percentile and the capacity kept above the forecast.
    public static let objectiveQuantile = 0.99
    public static let headroom = 0.1
    /// With an objective, scale-down by the larger of one pod or 10 % a minute once five minutes of
    /// recommendations agree: the planner's count already carries the headroom, so no more patience is needed.
    public static let objectiveScaleDown = ResolvedPolicy.ScalingRules(
        stabilizationWindow: 300,
        policies: [.init(type: .pods, value: 1, period: 60), .init(type: .percent, value: 10, period: 60)],
        selectPolicy: .max)

    /// Targets for signal types that have a natural one; the others need the user's number.
    public static func target(for type: SignalType) -> Double? {
        switch type {
        case .queueDepth: 5
        case .kvCacheUtilization: 0.85
        case .gpuUtilization: 80
        // Held back above 1; 0.8 leaves room for a burst while new replicas load.
        case .gatewaySaturation: 0.8
        case .runningRequests, .timeToFirstToken, .tokenThroughput, .custom, .gatewayQueueDepth,
            .gatewayRunningRequests, .gpuMemoryCopyUtilization, .gpuFramebufferUsed, .gpuPower:
            nil
        }
    }
}
