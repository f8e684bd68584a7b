import Foundation
import KubernetesModel

/// What decided the replica count: a signal, or the rule or bound that overrode the signals.
public enum LimitReason: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The named signal's recommendation (the largest of all signals).
    case signal(String)
    /// A signal could not be read, so the count may not go down.
    case missingMetrics
    /// No signal could be read for `fallback.afterFailures` rounds.
    case fallback
    /// Pods still loading their model will absorb the backlog; or may not be removed.
    case coldStart
    /// At zero and no signal above its activation value; or activated from zero.
    case activation
    /// Still waiting for `scaleToZero.idleFor` before going to zero.
    case idleFor
    /// Idle for `scaleToZero.idleFor`: going to zero.
    case scaleToZero
    case minReplicas
    case maxReplicas
    case schedule(String)
    /// The namespace's ResourceQuota (named) has room for no more pods.
    case quota(String)
    case scaleUpStabilization
    case scaleDownStabilization
    case scaleUpRate
    case scaleDownRate
    case paused

    public var description: String {
        switch self {
        case .signal(let name): name
        case .missingMetrics: "missingMetrics"
        case .fallback: "fallback"
        case .coldStart: "coldStart"
        case .activation: "activation"
        case .idleFor: "idleFor"
        case .scaleToZero: "scaleToZero"
        case .minReplicas: "minReplicas"
        case .maxReplicas: "maxReplicas"
        case .schedule(let name): "schedule:\(name)"
        case .quota(let name): "quota:\(name)"
        case .scaleUpStabilization: "scaleUpStabilization"
        case .scaleDownStabilization: "scaleDownStabilization"
        case .scaleUpRate: "scaleUpRate"
        case .scaleDownRate: "scaleDownRate"
        case .paused: "paused"
        }
    }

    public init(_ text: String) {
        let fixed: [LimitReason] = [
            .missingMetrics, .fallback, .coldStart, .activation, .idleFor, .scaleToZero, .minReplicas, .maxReplicas,
            .scaleUpStabilization, .scaleDownStabilization, .scaleUpRate, .scaleDownRate, .paused,
        ]
        if let match = fixed.first(where: { $0.description == text }) {
            self = match
        } else if text.hasPrefix("schedule:") {
            self = .schedule(String(text.dropFirst("schedule:".count)))
        } else if text.hasPrefix("quota:") {
            self = .quota(String(text.dropFirst("quota:".count)))
        } else {
            self = .signal(text)
        }
    }

    /// True when a signal decided, false when a rule or bound overrode the signals.
    public var isSignal: Bool {
        if case .signal = self { return true }
        return false
    }

    /// The `reason` of the `ScalingLimited` condition (CamelCase, as `metav1.Condition` requires).
    public var conditionReason: String {
        switch self {
        case .signal: "DesiredWithinRange"
        case .schedule: "Schedule"
        case .quota: "ResourceQuota"
        default:
            description.prefix(1).uppercased() + description.dropFirst()
        }
    }
}

extension LimitReason: Codable {
    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// The outcome of one round: the replica count, why, and the memory for the next round.
public struct ScalingDecision: Codable, Sendable, Equatable {
    /// The replica count the target should have now.
    public var desiredReplicas: Int
    /// The target's `spec.replicas` when the decision was made.
    public var previousReplicas: Int
    public var limitedBy: LimitReason
    /// One sentence for people: what was read and why this count.
    public var message: String
    public var signals: [SignalStatus]
    /// `MetricsAvailable`, `Active`, `ScalingLimited`, `Fallback` (without transition times: see
    /// `PolicyCondition.merge`).
    public var conditions: [PolicyCondition]
    /// The objective planner's capacity, lead time and forecast (policies with `spec.objective`).
    public var objective: ObjectiveStatus? = nil
    /// To persist (in status) and pass to the next round; persist it only when the decision was carried out.
    public var history: DecisionHistory

    public var changesReplicas: Bool { desiredReplicas != previousReplicas }
}
