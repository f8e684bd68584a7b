import AutoscalerCore
import Foundation
import KubernetesClient
import KubernetesModel

/// A pod as the decision needs it.
public struct PodInfo: Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    public var createdAt: Date
    public var ready: Bool
    public var readySince: Date?
    public var terminating: Bool
    /// `nvidia.com/gpu` of its containers (0: none asked for).
    public var gpus: Int
    /// The scheduler's message while it cannot place the pod (`PodScheduled=False`, `Unschedulable`).
    public var unschedulable: String?

    public init(
        name: String, labels: [String: String], createdAt: Date, ready: Bool, readySince: Date? = nil,
        terminating: Bool = false, gpus: Int = 0, unschedulable: String? = nil
    ) {
        self.gpus = gpus
        self.unschedulable = unschedulable
        self.name = name
        self.labels = labels
        self.createdAt = createdAt
        self.ready = ready
        self.readySince = readySince
        self.terminating = terminating
    }
}

/// The reasons of the Events the controller records besides a hold's (whose reason is its `ReconcileReason`).
public enum PolicyEventReason: String, Sendable, CaseIterable {
    case scaledUp = "ScaledUp", scaledDown = "ScaledDown", scaledToZero = "ScaledToZero"
    case activatedFromZero = "ActivatedFromZero"
    /// What a shadow policy would have done.
    case wouldScaleUp = "WouldScaleUp", wouldScaleDown = "WouldScaleDown", wouldScaleToZero = "WouldScaleToZero"
    case wouldActivateFromZero = "WouldActivateFromZero"
    case fallbackActivated = "FallbackActivated", fallbackDeactivated = "FallbackDeactivated"
    case capacityUnavailable = "CapacityUnavailable", limitedByQuota = "LimitedByQuota"
    case metricsUnavailable = "MetricsUnavailable", disruptionBudgetConflict = "DisruptionBudgetConflict"
    case scaleFailed = "ScaleFailed"

    /// A scale's Event, and what a shadow says instead.
    static let shadowed: [PolicyEventReason: PolicyEventReason] = [
        .scaledUp: .wouldScaleUp, .scaledDown: .wouldScaleDown, .scaledToZero: .wouldScaleToZero,
        .activatedFromZero: .wouldActivateFromZero,
    ]
}

/// An Event about a policy.
public struct PolicyEvent: Sendable, Equatable {
    public enum Kind: String, Sendable { case normal = "Normal", warning = "Warning" }

    public var kind: Kind
    /// `ScaledUp`, `ScaledDown`, `ScaledToZero`, `ActivatedFromZero`, `FallbackActivated`, …
    public var reason: String
    public var message: String

    public init(_ kind: Kind, _ reason: String, _ message: String) {
        self.kind = kind
        self.reason = reason
        self.message = message
    }

    public init(_ kind: Kind, _ reason: PolicyEventReason, _ message: String) {
        self.init(kind, reason.rawValue, message)
    }
}

/// What bounds a workload's pod count besides its policy.
public struct WorkloadGuardrails: Sendable, Equatable {
    /// The ResourceQuotas of its namespace.
    public var quotas: [QuotaUsage]
    /// `nvidia.com/gpu` one replica asks for (its pod template); nil when not known.
    public var gpusPerReplica: Int?
    /// The workload controller's `ReplicaFailure` message (pods it could not create).
    public var replicaFailure: String?

    public init(quotas: [QuotaUsage] = [], gpusPerReplica: Int? = nil, replicaFailure: String? = nil) {
        self.quotas = quotas
        self.gpusPerReplica = gpusPerReplica
        self.replicaFailure = replicaFailure
    }
}

/// What the reconciler asks of the cluster. `LiveClusterAPI` talks to the API server; tests record the calls.
public protocol ClusterAPI: Sendable {
    func resolve(apiVersion: String, kind: String) async throws -> KubernetesAPIClient.DiscoveredResource
    func scale(_ resource: APIResource, namespace: String, name: String) async throws -> Scale
    func setScale(_ resource: APIResource, namespace: String, name: String, replicas: Int) async throws
    /// The pods of a namespace that match a selector (from a cache).
    func pods(namespace: String, selector: LabelSelector) async throws -> [PodInfo]
    /// Writes `status` through `/status` (optimistic concurrency on `resourceVersion`).
    func updateStatus(of policy: InferenceAutoscalePolicy, status: PolicyStatus) async throws
    /// Server-side applies a PodDisruptionBudget; throws `DisruptionBudgetConflict` when one of that name exists
    /// that the policy does not own (the user's own), which is left as it is.
    func applyDisruptionBudget(_ budget: JSONValue, namespace: String, name: String) async throws
    /// Deletes it if the policy (`owner`, its uid) owns it; absent, or someone else's, is left alone.
    func deleteDisruptionBudget(namespace: String, name: String, owner: String?) async throws
    func record(_ event: PolicyEvent, for policy: InferenceAutoscalePolicy) async
    /// Another autoscaler of the same workload (an HPA, a KEDA ScaledObject, or an older policy), described for
    /// a condition message; nil when there is none.
    func conflict(for policy: InferenceAutoscalePolicy, target: ResolvedPolicy.Target) async -> String?
    /// Sets `controller.kubernetes.io/pod-deletion-cost` on a pod, so the ReplicaSet removes cheaper pods first.
    func setDeletionCost(_ cost: Int, namespace: String, pod: String) async throws
    /// The quotas of the target's namespace and what its workload controller reports (from caches).
    func guardrails(_ resource: APIResource, namespace: String, name: String) async -> WorkloadGuardrails
    /// Drops what is remembered of a deleted policy (its Event series, its applied budget).
    func forget(_ policy: PolicyKey)
}

extension ClusterAPI {
    public func forget(_ policy: PolicyKey) {}
    public func conflict(for policy: InferenceAutoscalePolicy, target: ResolvedPolicy.Target) async -> String? { nil }
    public func setDeletionCost(_ cost: Int, namespace: String, pod: String) async throws {}
    public func guardrails(_ resource: APIResource, namespace: String, name: String) async -> WorkloadGuardrails {
        WorkloadGuardrails()
    }
}

/// A PodDisruptionBudget with the policy's name exists and the policy does not own it.
public struct DisruptionBudgetConflict: Error, Sendable, CustomStringConvertible {
    public var namespace: String
    public var name: String
    public var description: String {
        "PodDisruptionBudget \(namespace)/\(name) exists and is not owned by this policy: it is left as it is; "
            + "delete or rename it to let the policy manage its budget, or remove spec.disruptionBudget"
    }
}
