import Foundation

/// An `InferenceAutoscalePolicy` (`autoscaling.inference.dev/v1alpha1`) as the Kubernetes API serves it.
///
/// The spec types mirror the JSON exactly: every member is optional and enumerations and durations are strings, so
/// that any document decodes and `PolicyValidator` can report every problem at once with its field path. Unknown
/// members are ignored. `PolicyValidator.resolve(_:)` turns a spec into a `ResolvedPolicy` with every default
/// applied, which is what the decision works on.
public struct InferenceAutoscalePolicy: Codable, Sendable, Equatable {
    public static let apiVersion = "autoscaling.inference.dev/v1alpha1"
    public static let kind = "InferenceAutoscalePolicy"

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: PolicySpec?
    public var status: PolicyStatus?

    public init(metadata: ObjectMeta, spec: PolicySpec?, status: PolicyStatus? = nil) {
        self.apiVersion = Self.apiVersion
        self.kind = Self.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    private enum CodingKeys: String, CodingKey { case apiVersion, kind, metadata, spec, status }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try container.decodeIfPresent(String.self, forKey: .apiVersion)
        kind = try container.decodeIfPresent(String.self, forKey: .kind)
        metadata = try container.decodeIfPresent(ObjectMeta.self, forKey: .metadata) ?? ObjectMeta()
        spec = try container.decodeIfPresent(PolicySpec.self, forKey: .spec)
        status = try container.decodeIfPresent(PolicyStatus.self, forKey: .status)
    }
}

/// `spec` of an `InferenceAutoscalePolicy`.
public struct PolicySpec: Codable, Sendable, Equatable {
    /// The workload to scale: anything with a `/scale` subresource.
    public var targetRef: TargetReference?
    public var minReplicas: Int?
    public var maxReplicas: Int?
    /// How often signals are read and a decision made (duration, default `15s`).
    public var pollingInterval: String?
    /// `vllm` | `tgi` | `sglang` | `nim` | `custom` (default `vllm`).
    public var engine: String?
    public var prometheus: PrometheusSpec?
    /// The latency the workload must keep; with it the controller sizes the fleet from learned capacity and forecast
    /// demand, and `signals` become safety floors.
    public var objective: ObjectiveSpec?
    public var signals: [SignalSpec]?
    public var schedules: [ScheduleSpec]?
    public var behavior: BehaviorSpec?
    public var scaleToZero: ScaleToZeroSpec?
    public var startup: StartupSpec?
    public var fallback: FallbackSpec?
    public var disruptionBudget: DisruptionBudgetSpec?
    public var paused: Bool?
    /// `Active` (default) or `Shadow`: decide and report, never write to the target.
    public var mode: String?

    public init(
        targetRef: TargetReference? = nil, minReplicas: Int? = nil, maxReplicas: Int? = nil,
        pollingInterval: String? = nil, engine: String? = nil, prometheus: PrometheusSpec? = nil,
        objective: ObjectiveSpec? = nil, signals: [SignalSpec]? = nil, schedules: [ScheduleSpec]? = nil,
        behavior: BehaviorSpec? = nil,
        scaleToZero: ScaleToZeroSpec? = nil, startup: StartupSpec? = nil, fallback: FallbackSpec? = nil,
        disruptionBudget: DisruptionBudgetSpec? = nil, paused: Bool? = nil, mode: String? = nil
    ) {
        self.mode = mode
        self.targetRef = targetRef
        self.minReplicas = minReplicas
        self.maxReplicas = maxReplicas
        self.pollingInterval = pollingInterval
        self.engine = engine
        self.prometheus = prometheus
        self.objective = objective
        self.signals = signals
        self.schedules = schedules
        self.behavior = behavior
        self.scaleToZero = scaleToZero
        self.startup = startup
        self.fallback = fallback
        self.disruptionBudget = disruptionBudget
        self.paused = paused
    }
}

public struct TargetReference: Codable, Sendable, Equatable, Hashable {
    public var apiVersion: String?
    public var kind: String?
    public var name: String?

    public init(apiVersion: String? = nil, kind: String? = nil, name: String? = nil) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
    }
}

/// Where the signals are read: Prometheus or anything serving its query API (Thanos, Mimir, VictoriaMetrics).
public struct PrometheusSpec: Codable, Sendable, Equatable {
    public var address: String?
    public var timeout: String?
    public var bearerTokenSecretRef: SecretKeySelector?
    public var basicAuth: BasicAuthSpec?
    public var tls: PrometheusTLSSpec?
    /// Extra request headers, e.g. `X-Scope-OrgID` for a Mimir or Cortex tenant.
    public var headers: [String: String]?

    public init(
        address: String? = nil, timeout: String? = nil, bearerTokenSecretRef: SecretKeySelector? = nil,
        basicAuth: BasicAuthSpec? = nil, tls: PrometheusTLSSpec? = nil, headers: [String: String]? = nil
    ) {
        self.address = address
        self.timeout = timeout
        self.bearerTokenSecretRef = bearerTokenSecretRef
        self.basicAuth = basicAuth
        self.tls = tls
        self.headers = headers
    }
}

public struct SecretKeySelector: Codable, Sendable, Equatable {
    public var name: String?
    public var key: String?

    public init(name: String? = nil, key: String? = nil) {
        self.name = name
        self.key = key
    }
}

public struct BasicAuthSpec: Codable, Sendable, Equatable {
    public var usernameSecretRef: SecretKeySelector?
    public var passwordSecretRef: SecretKeySelector?

    public init(usernameSecretRef: SecretKeySelector? = nil, passwordSecretRef: SecretKeySelector? = nil) {
        self.usernameSecretRef = usernameSecretRef
        self.passwordSecretRef = passwordSecretRef
    }
}

public struct PrometheusTLSSpec: Codable, Sendable, Equatable {
    public var caSecretRef: SecretKeySelector?
    public var certSecretRef: SecretKeySelector?
    public var keySecretRef: SecretKeySelector?
    public var insecureSkipVerify: Bool?

    public init(
        caSecretRef: SecretKeySelector? = nil, certSecretRef: SecretKeySelector? = nil,
        keySecretRef: SecretKeySelector? = nil, insecureSkipVerify: Bool? = nil
    ) {
        self.caSecretRef = caSecretRef
        self.certSecretRef = certSecretRef
        self.keySecretRef = keySecretRef
        self.insecureSkipVerify = insecureSkipVerify
    }
}

/// `spec.objective`: a latency objective at a percentile, and the headroom the user pays for on top of it.
public struct ObjectiveSpec: Codable, Sendable, Equatable {
    /// Time to first token, e.g. `{percentile: 99, target: 2s}`. Required.
    public var timeToFirstToken: LatencyObjectiveSpec?
    /// Time between output tokens, e.g. `{percentile: 99, target: 100ms}`.
    public var interTokenLatency: LatencyObjectiveSpec?
    /// Capacity kept above the forecast demand, in percent of it (default 10).
    public var headroomPercent: Int?

    public init(
        timeToFirstToken: LatencyObjectiveSpec? = nil, interTokenLatency: LatencyObjectiveSpec? = nil,
        headroomPercent: Int? = nil
    ) {
        self.timeToFirstToken = timeToFirstToken
        self.interTokenLatency = interTokenLatency
        self.headroomPercent = headroomPercent
    }
}

public struct LatencyObjectiveSpec: Codable, Sendable, Equatable {
    /// Percent of requests that must be within the target (default 99).
    public var percentile: Double?
    /// A duration such as `2s` or `100ms`.
    public var target: String?

    public init(percentile: Double? = nil, target: String? = nil) {
        self.percentile = percentile
        self.target = target
    }
}

/// One signal the replica count follows.
public struct SignalSpec: Codable, Sendable, Equatable {
    /// `QueueDepth` | `RunningRequests` | `TimeToFirstToken` | `KVCacheUtilization` | `GPUUtilization` |
    /// `TokenThroughput` | `GatewayQueueDepth` | `GatewaySaturation` | `GatewayRunningRequests` | `Custom`.
    public var type: String?
    /// A number, or for `TimeToFirstToken` a duration such as `500ms`.
    public var target: NumberOrString?
    /// `AverageValue` (per ready replica, the default) or `Value` (the whole fleet).
    public var targetType: String?
    /// At or below this on every signal the workload is idle (default 0).
    public var activation: Double?
    /// The latency quantile for `TimeToFirstToken` (default 0.95).
    public var quantile: Double?
    /// PromQL for `Custom`.
    public var query: String?
    /// The `rate()` window for `TimeToFirstToken` and `TokenThroughput` (default `1m`).
    public var window: String?
    /// The InferencePool whose endpoint picker the `Gateway*` types read (default: the target's name).
    public var pool: String?

    public init(
        type: String? = nil, target: NumberOrString? = nil, targetType: String? = nil, activation: Double? = nil,
        quantile: Double? = nil, query: String? = nil, window: String? = nil, pool: String? = nil
    ) {
        self.pool = pool
        self.type = type
        self.target = target
        self.targetType = targetType
        self.activation = activation
        self.quantile = quantile
        self.query = query
        self.window = window
    }
}

/// A floor on the replica count during a recurring time window.
public struct ScheduleSpec: Codable, Sendable, Equatable {
    public var name: String?
    /// IANA time zone (default `UTC`).
    public var timezone: String?
    /// 5-field cron expression: when the window opens.
    public var start: String?
    /// 5-field cron expression: when the window closes.
    public var end: String?
    public var minReplicas: Int?

    public init(
        name: String? = nil, timezone: String? = nil, start: String? = nil, end: String? = nil,
        minReplicas: Int? = nil
    ) {
        self.name = name
        self.timezone = timezone
        self.start = start
        self.end = end
        self.minReplicas = minReplicas
    }
}

/// The HPA v2 `behavior` block, with durations instead of seconds.
public struct BehaviorSpec: Codable, Sendable, Equatable {
    public var tolerance: Double?
    public var scaleUp: ScalingRulesSpec?
    public var scaleDown: ScalingRulesSpec?

    public init(tolerance: Double? = nil, scaleUp: ScalingRulesSpec? = nil, scaleDown: ScalingRulesSpec? = nil) {
        self.tolerance = tolerance
        self.scaleUp = scaleUp
        self.scaleDown = scaleDown
    }
}

public struct ScalingRulesSpec: Codable, Sendable, Equatable {
    public var stabilizationWindow: String?
    public var policies: [ScalingPolicySpec]?
    /// `Max` | `Min` | `Disabled` (default `Max`).
    public var selectPolicy: String?

    public init(stabilizationWindow: String? = nil, policies: [ScalingPolicySpec]? = nil, selectPolicy: String? = nil) {
        self.stabilizationWindow = stabilizationWindow
        self.policies = policies
        self.selectPolicy = selectPolicy
    }
}

public struct ScalingPolicySpec: Codable, Sendable, Equatable {
    /// `Pods` | `Percent`.
    public var type: String?
    public var value: Int?
    public var period: String?

    public init(type: String? = nil, value: Int? = nil, period: String? = nil) {
        self.type = type
        self.value = value
        self.period = period
    }
}

public struct ScaleToZeroSpec: Codable, Sendable, Equatable {
    /// How long every signal must stay at or below its activation value before going to zero (default `10m`).
    public var idleFor: String?

    public init(idleFor: String? = nil) { self.idleFor = idleFor }
}

public struct StartupSpec: Codable, Sendable, Equatable {
    /// Seconds from pod creation to Ready; learned from observed pods when absent.
    public var expectedDuration: String?

    public init(expectedDuration: String? = nil) { self.expectedDuration = expectedDuration }
}

public struct FallbackSpec: Codable, Sendable, Equatable {
    public var replicas: Int?
    /// Consecutive rounds with no readable signal before the fallback applies (default 3).
    public var afterFailures: Int?

    public init(replicas: Int? = nil, afterFailures: Int? = nil) {
        self.replicas = replicas
        self.afterFailures = afterFailures
    }
}

public struct DisruptionBudgetSpec: Codable, Sendable, Equatable {
    public var maxUnavailable: IntOrString?
    public var minAvailable: IntOrString?

    public init(maxUnavailable: IntOrString? = nil, minAvailable: IntOrString? = nil) {
        self.maxUnavailable = maxUnavailable
        self.minAvailable = minAvailable
    }
}

/// A JSON number or string (signal targets: `0.85`, `500ms`).
public enum NumberOrString: Codable, Sendable, Equatable {
    case number(Double)
    case string(String)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else {
            throw DecodingError.typeMismatch(
                NumberOrString.self,
                .init(codingPath: decoder.codingPath, debugDescription: "expected a number or a string"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        }
    }
}

/// Kubernetes `IntOrString` (`1`, `"25%"`).
public enum IntOrString: Codable, Sendable, Equatable, Hashable {
    case int(Int)
    case string(String)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else {
            throw DecodingError.typeMismatch(
                IntOrString.self,
                .init(codingPath: decoder.codingPath, debugDescription: "expected an integer or a string"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        }
    }
}

/// A policy's identity in the controller's queue and memories: its namespace and name. Written `namespace/name`.
public struct PolicyKey: Hashable, Sendable, CustomStringConvertible {
    public var namespace: String
    public var name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    /// A policy without a namespace is in `default`, as the API server would have put it.
    public init(_ policy: InferenceAutoscalePolicy) {
        self.init(namespace: policy.metadata.namespace ?? "default", name: policy.metadata.name ?? "")
    }

    /// From `namespace/name`; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        self.init(namespace: String(parts[0]), name: String(parts[1]))
    }

    public var description: String { "\(namespace)/\(name)" }
}
