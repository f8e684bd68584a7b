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
    /// What the objective planner knows now (policies with `spec.objective`).
    public var objective: ObjectiveStatus?
    /// The decision's memory (stabilization windows, rate periods, idle timer). Kept in status so that a controller
    /// restart or a leader change does not forget it.
    public var history: DecisionHistory?
    /// Shadow mode's counterfactual.
    public var shadow: ShadowStatus?

    public init(
        observedGeneration: Int? = nil, currentReplicas: Int? = nil, readyReplicas: Int? = nil,
        desiredReplicas: Int? = nil, lastScaleTime: String? = nil, limitedBy: String? = nil,
        signals: [SignalStatus]? = nil, conditions: [PolicyCondition]? = nil, objective: ObjectiveStatus? = nil,
        history: DecisionHistory? = nil, shadow: ShadowStatus? = nil
    ) {
        self.shadow = shadow
        self.observedGeneration = observedGeneration
        self.currentReplicas = currentReplicas
        self.readyReplicas = readyReplicas
        self.desiredReplicas = desiredReplicas
        self.lastScaleTime = lastScaleTime
        self.limitedBy = limitedBy
        self.signals = signals
        self.conditions = conditions
        self.objective = objective
        self.history = history
    }
}

/// `status.shadow`: what a policy in shadow mode would have run, against what the workload ran, since `since`.
public struct ShadowStatus: Codable, Sendable, Equatable {
    public var since: String
    public var observedSeconds: Double
    /// The policy's replica count integrated over time.
    public var replicaSeconds: Double
    /// The workload's replicas (its `/scale` status) integrated over time.
    public var liveReplicaSeconds: Double
    /// Time the policy's count was below the live scaler's.
    public var belowLiveSeconds: Double
    public var lastObserved: String?
    /// The spec generation the figures are for: a new spec starts over.
    public var generation: Int?

    public init(
        since: String, observedSeconds: Double = 0, replicaSeconds: Double = 0, liveReplicaSeconds: Double = 0,
        belowLiveSeconds: Double = 0, lastObserved: String? = nil, generation: Int? = nil
    ) {
        self.generation = generation
        self.since = since
        self.observedSeconds = observedSeconds
        self.replicaSeconds = replicaSeconds
        self.liveReplicaSeconds = liveReplicaSeconds
        self.belowLiveSeconds = belowLiveSeconds
        self.lastObserved = lastObserved
    }
}

/// `status.objective`: the learned capacity, the lead time and the forecast the replica count came from.
public struct ObjectiveStatus: Codable, Sendable, Equatable {
    /// Requests per second one ready replica sustains within the objective, for the current request mix.
    public var capacityPerReplica: Double?
    /// The same in prompt plus generated tokens per second.
    public var tokensPerSecondPerReplica: Double?
    /// `Prior` (the engine preset's conservative figure) or `Learned`.
    public var capacitySource: String?
    /// Seconds from a pod's creation to Ready that the forecast looks ahead (plus one polling interval).
    public var leadTimeSeconds: Double?
    /// Requests per second now, and forecast one lead time ahead.
    public var demand: Double?
    public var forecast: Double?
    /// `Current`, `Trend` or `Daily`.
    public var forecastMethod: String?
    /// Share of first tokens within the TTFT target over the error budget's horizon, in percent.
    public var attainmentPercent: Double?
    /// Headroom added to the configured one while the error budget is overspent, in percentage points.
    public var extraHeadroomPercent: Double?

    public init(
        capacityPerReplica: Double? = nil, tokensPerSecondPerReplica: Double? = nil, capacitySource: String? = nil,
        leadTimeSeconds: Double? = nil, demand: Double? = nil, forecast: Double? = nil, forecastMethod: String? = nil,
        attainmentPercent: Double? = nil, extraHeadroomPercent: Double? = nil
    ) {
        self.capacityPerReplica = capacityPerReplica
        self.tokensPerSecondPerReplica = tokensPerSecondPerReplica
        self.capacitySource = capacitySource
        self.leadTimeSeconds = leadTimeSeconds
        self.demand = demand
        self.forecast = forecast
        self.forecastMethod = forecastMethod
        self.attainmentPercent = attainmentPercent
        self.extraHeadroomPercent = extraHeadroomPercent
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

/// The condition types a policy's status carries: one spelling for every file that sets or reads one.
public enum PolicyConditionType: String, Sendable, CaseIterable {
    /// Whether the policy scales its target; the reason says why not (a hold) or that a write was refused.
    case ready = "Ready"
    case metricsAvailable = "MetricsAvailable"
    case active = "Active"
    case scalingLimited = "ScalingLimited"
    case capacityAvailable = "CapacityAvailable"
    case fallback = "Fallback"
    case disruptionBudget = "DisruptionBudget"
    case shadow = "Shadow"
    case objectivePlanned = "ObjectivePlanned"
}

extension PolicyCondition {
    public init(type: PolicyConditionType, status: Status, reason: String, message: String) {
        self.init(type: type.rawValue, status: status, reason: reason, message: message)
    }

    /// Whether this is the condition of `type`.
    public func `is`(_ type: PolicyConditionType) -> Bool { self.type == type.rawValue }
}

extension Array where Element == PolicyCondition {
    /// The condition of `type`, if present.
    public func first(_ type: PolicyConditionType) -> PolicyCondition? { first { $0.is(type) } }
}
