import Foundation

/// `status` of an `InferenceAutoscalePolicy`, written by the controller through the `/status` subresource.
public struct PolicyStatus: Codable, Sendable, Equatable {
    public var observedGeneration: Int?
    public var currentReplicas: Int?
    public var readyReplicas: Int?
    public var desiredReplicas: Int?
    public var lastScaleTime: String?
    public var limitedBy: String?
    public var signals: [SignalStatus]?
    public var conditions: [PolicyCondition]?
    /// The decision's memory (stabilization windows, rate periods, idle timer). Kept in status so that a controller
    /// restart or a leader change does not forget it.
    public var history: DecisionHistory?

    public init(
        observedGeneration: Int? = nil, currentReplicas: Int? = nil, readyReplicas: Int? = nil,
        desiredReplicas: Int? = nil, lastScaleTime: String? = nil, limitedBy: String? = nil,
        signals: [SignalStatus]? = nil, conditions: [PolicyCondition]? = nil, history: DecisionHistory? = nil
    ) {
        self.observedGeneration = observedGeneration
        self.currentReplicas = currentReplicas
        self.readyReplicas = readyReplicas
        self.desiredReplicas = desiredReplicas
        self.lastScaleTime = lastScaleTime
        self.limitedBy = limitedBy
        self.signals = signals
        self.conditions = conditions
        self.history = history
    }
}

/// What one signal read and recommended.
public struct SignalStatus: Codable, Sendable, Equatable {
    public var type: String
    public var name: String?
    public var value: Double?
    public var target: Double
    public var recommendation: Int?
    /// Why there is no value (the query failed, no series, NaN, …).
    public var error: String?

    public init(
        type: String, name: String? = nil, value: Double?, target: Double, recommendation: Int?, error: String? = nil
    ) {
        self.type = type
        self.name = name
        self.value = value
        self.target = target
        self.recommendation = recommendation
        self.error = error
    }
}

/// `metav1.Condition`.
public struct PolicyCondition: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case `true` = "True", `false` = "False", unknown = "Unknown" }

    public var type: String
    public var status: Status
    public var reason: String
    public var message: String
    public var lastTransitionTime: String?
    public var observedGeneration: Int?

    public init(
        type: String, status: Status, reason: String, message: String, lastTransitionTime: String? = nil,
        observedGeneration: Int? = nil
    ) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.lastTransitionTime = lastTransitionTime
        self.observedGeneration = observedGeneration
    }
}

extension PolicyCondition {
    /// Merges freshly computed conditions into the stored ones: `lastTransitionTime` moves only when a condition's
    /// status changes, so that `kubectl describe` shows when something really happened. Stored conditions of types
    /// not computed now are kept.
    public static func merge(
        _ existing: [PolicyCondition], with updates: [PolicyCondition], now: Date, observedGeneration: Int?
    ) -> [PolicyCondition] {
        var result = existing
        for update in updates {
            var condition = update
            condition.observedGeneration = observedGeneration
            if let index = result.firstIndex(where: { $0.type == update.type }) {
                let previous = result[index]
                condition.lastTransitionTime =
                    previous.status == update.status
                    ? (previous.lastTransitionTime ?? Timestamp.format(now)) : Timestamp.format(now)
                result[index] = condition
            } else {
                condition.lastTransitionTime = Timestamp.format(now)
                result.append(condition)
            }
        }
        return result
    }
}
