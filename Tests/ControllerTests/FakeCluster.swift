import AutoscalerCore
import Foundation
import KubernetesClient
import KubernetesModel
import Synchronization

@testable import Controller

/// A recording fake of the cluster: a target with a /scale, its pods, and every call the reconciler makes.
final class FakeCluster: ClusterAPI, Sendable {
    enum Action: Equatable, CustomStringConvertible {
        case setScale(Int)
        case updateStatus
        case applyBudget(JSONValue)
        case deleteBudget
        case event(String)
        case deletionCost(pod: String, cost: Int)

        var description: String {
            switch self {
            case .setScale(let replicas): "setScale(\(replicas))"
            case .updateStatus: "updateStatus"
            case .applyBudget: "applyBudget"
            case .deleteBudget: "deleteBudget"
            case .event(let reason): "event(\(reason))"
            case .deletionCost(let pod, let cost): "deletionCost(\(pod), \(cost))"
            }
        }
    }

    struct State {
        var scalable = true
        var targetExists = true
        var replicas = 2
        var selector = "app=vllm"
        var pods: [PodInfo] = []
        var actions: [Action] = []
        var events: [PolicyEvent] = []
        var statuses: [PolicyStatus] = []
        var failScale = false
        /// A budget of the policy's name exists that the user made.
        var budgetOwnedByUser = false
        /// Steps that fail, and with what.
        var failing: [Step: KubernetesError] = [:]
        /// What `conflict(for:target:)` answers.
        var conflict: String?
    }

    /// A write the fake can be told to refuse.
    enum Step: Hashable { case scale, applyBudget, deleteBudget, status }

    let state: Mutex<State>

    /// Makes `step` fail with a 403 like the API server's when the role lacks the grant (nil: succeed again).
    func forbid(_ step: Step, _ message: String? = "forbidden by the test") {
        state.withLock { state in
            state.failing[step] = message.map {
                KubernetesError(code: 403, reason: "Forbidden", message: $0, request: "test")
            }
        }
    }

    init(replicas: Int = 2, readyPods: Int? = nil) {
        var initial = State()
        initial.replicas = replicas
        initial.pods = (0..<(readyPods ?? replicas)).map {
            PodInfo(name: "vllm-\($0)", labels: ["app": "vllm"], createdAt: t0.addingTimeInterval(-3600), ready: true)
        }
        state = Mutex(initial)
    }

    var actions: [Action] { state.withLock { $0.actions } }
    var lastStatus: PolicyStatus? { state.withLock { $0.statuses.last } }
    var replicas: Int { state.withLock { $0.replicas } }

    func clearActions() { state.withLock { $0.actions.removeAll() } }

    func resolve(apiVersion: String, kind: String) async throws -> KubernetesAPIClient.DiscoveredResource {
        let (exists, scalable) = state.withLock { ($0.targetExists, $0.scalable) }
        guard exists || kind == "Deployment" else {
            throw KubernetesError(code: 404, reason: "NotFound", message: "no kind \(kind)", request: "discovery")
        }
        return .init(resource: .deployments, scalable: scalable, hasStatus: true)
    }

    func scale(_ resource: APIResource, namespace: String, name: String) async throws -> Scale {
        try state.withLock { state in
            guard state.targetExists else {
                throw KubernetesError(
                    code: 404, reason: "NotFound", message: "deployments.apps \"\(name)\" not found", request: "GET")
            }
            return Scale(
                apiVersion: "autoscaling/v1", kind: "Scale", metadata: ObjectMeta(name: name, namespace: namespace),
                spec: .init(replicas: state.replicas),
                status: .init(replicas: state.pods.count, selector: state.selector))
        }
    }

    func setScale(_ resource: APIResource, namespace: String, name: String, replicas: Int) async throws {
        try state.withLock { state in
            if state.failScale {
                throw KubernetesError(code: 500, reason: "InternalError", message: "boom", request: "PATCH")
            }
            if let error = state.failing[.scale] { throw error }
            state.replicas = replicas
            state.actions.append(.setScale(replicas))
        }
    }

    func pods(namespace: String, selector: LabelSelector) async throws -> [PodInfo] {
        state.withLock { $0.pods.filter { selector.matches($0.labels) } }
    }

    func updateStatus(of policy: InferenceAutoscalePolicy, status: PolicyStatus) async throws {
        try state.withLock {
            if let error = $0.failing[.status] { throw error }
            $0.actions.append(.updateStatus)
            $0.statuses.append(status)
        }
    }

    func applyDisruptionBudget(_ budget: JSONValue, namespace: String, name: String) async throws {
        try state.withLock {
            if let error = $0.failing[.applyBudget] { throw error }
            if $0.budgetOwnedByUser { throw DisruptionBudgetConflict(namespace: namespace, name: name) }
            $0.actions.append(.applyBudget(budget))
        }
    }

    func deleteDisruptionBudget(namespace: String, name: String, owner: String?) async throws {
        try state.withLock {
            if let error = $0.failing[.deleteBudget] { throw error }
            $0.actions.append(.deleteBudget)
        }
    }

    func record(_ event: PolicyEvent, for policy: InferenceAutoscalePolicy) async {
        state.withLock {
            $0.actions.append(.event(event.reason))
            $0.events.append(event)
        }
    }

    func conflict(for policy: InferenceAutoscalePolicy, target: ResolvedPolicy.Target) async -> String? {
        state.withLock { $0.conflict }
    }

    func setDeletionCost(_ cost: Int, namespace: String, pod: String) async throws {
        state.withLock { $0.actions.append(.deletionCost(pod: pod, cost: cost)) }
    }
}

/// Signals with fixed samples, changed by the test.
final class FakeSignals: SignalSource, Sendable {
    let samples: Mutex<[SignalSample]>
    /// Per pod, what `runningRequests` answers.
    let running = Mutex<[String: Double]>([:])
    /// The pods' GPU counts the last `samples` call was given.
    let lastGPUs = Mutex<[String: Int]>([:])

    func runningRequests(for policy: ResolvedPolicy, pods: [String], at time: Date) async -> [String: Double] {
        running.withLock { $0 }
    }

    /// Per policy name, samples that replace `samples`.
    let byPolicy = Mutex<[String: [SignalSample]]>([:])

    init(_ samples: [SignalSample]) { self.samples = Mutex(samples) }

    func set(_ values: [SignalSample]) { samples.withLock { $0 = values } }

    func set(_ values: [SignalSample], for policy: String) { byPolicy.withLock { $0[policy] = values } }

    func samples(
        for policy: ResolvedPolicy, pods: [String], ready: Set<String>, gpus: [String: Int], at time: Date
    ) async -> [SignalSample] {
        lastGPUs.withLock { $0 = gpus }
        if let own = byPolicy.withLock({ $0[policy.name] }) { return own }
        return samples.withLock { $0 }
    }
}

let t0 = Date(timeIntervalSince1970: 1_800_000_000)

func policy(_ spec: String, status: PolicyStatus? = nil, generation: Int = 1) throws -> InferenceAutoscalePolicy {
    let json = """
        {"apiVersion": "autoscaling.inference.dev/v1alpha1", "kind": "InferenceAutoscalePolicy",
         "metadata": {"name": "llama", "namespace": "inference", "uid": "u-1", "generation": \(generation)},
         "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm"}, \(spec)}}
        """
    var decoded = try JSONDecoder().decode(InferenceAutoscalePolicy.self, from: Data(json.utf8))
    decoded.status = status
    return decoded
}
