import AutoscalerCore
import Foundation
import KubernetesClient
import KubernetesModel
import Logging
import Synchronization

/// One reconcile of one policy: read the target, its pods and the signals; plan (`ReconcilePlanner`, pure); carry
/// the plan out. Level-based: it reads everything each time.
public final class PolicyReconciler: Sendable {
    /// The annotation that pauses a policy like `spec.paused: true`.
    public static let pausedAnnotation = ReconcilePlanner.pausedAnnotation
    static let deletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

    private let cluster: any ClusterAPI
    private let signals: any SignalSource
    private let logger: Logger
    private let metrics: ControllerMetrics?
    private let permissions: TenantPermissions
    /// Off with `--no-pod-deletion-cost`: the controller then never patches pods.
    private let markDeletionCosts: Bool
    /// How often values alone (signal values, messages, counters) refresh status.
    private let valueRefresh: Double
    private let memory = Mutex<[PolicyKey: PolicyMemory]>([:])

    public init(
        cluster: any ClusterAPI, signals: any SignalSource, metrics: ControllerMetrics? = nil,
        permissions: TenantPermissions = .init(), markDeletionCosts: Bool = true,
        valueRefresh: Double = ReconcilePlanner.valueRefreshInterval,
        logger: Logger = Logger(label: "inference-autoscaler.reconciler")
    ) {
        self.valueRefresh = valueRefresh
        self.markDeletionCosts = markDeletionCosts
        self.cluster = cluster
        self.signals = signals
        self.metrics = metrics
        self.permissions = permissions
        self.logger = logger
    }

    /// Forgets a deleted policy.
    public func forget(_ key: PolicyKey) {
        _ = memory.withLock { $0.removeValue(forKey: key) }
        cluster.forget(key)
        metrics?.forget(namespace: key.namespace, name: key.name)
    }

    public func reconcile(_ policy: InferenceAutoscalePolicy, now: Date) async -> ReconcileResult {
        var log = logger
        log[metadataKey: "policy.namespace"] = "\(policy.metadata.namespace ?? "default")"
        log[metadataKey: "policy.name"] = "\(policy.metadata.name ?? "")"
        switch await read(policy, log: log) {
        case .held(let hold):
            let plan = ReconcilePlanner.hold(hold, policy: policy, now: now)
            return await execute(
                plan, policy: policy, scaling: nil, pollingInterval: hold.pollingInterval, now: now, log: log)
        case .unreadable(let error, let pollingInterval):
            return .retry(reason: "\(error)", within: pollingInterval)
        case .read(let resolved, let target, let observation):
            let key = PolicyKey(namespace: resolved.namespace, name: resolved.name)
            let pods = observation.pods.map(\.name)
            let ready = Set(observation.pods.filter { $0.ready && !$0.terminating }.map(\.name))
            var gpus: [String: Int] = [:]
            for pod in observation.pods where pod.gpus > 0 { gpus[pod.name] = pod.gpus }
            let samples = await signals.samples(for: resolved, pods: pods, ready: ready, gpus: gpus, at: now)
            let workload =
                resolved.objective == nil
                ? nil : await signals.workload(for: resolved, pods: pods, ready: ready, at: now)
            let remembered = memory.withLock { $0[key] }
            let lastStatusWrite = remembered?.lastStatusWrite ?? .distantPast
            let (plan, decision) = ReconcilePlanner.round(
                policy: policy, resolved: resolved, observation: observation, samples: samples, workload: workload,
                memory: remembered, now: now, markDeletionCosts: markDeletionCosts, valueRefresh: valueRefresh)
            let result = await execute(
                plan, policy: policy, scaling: Scaling(policy: resolved, target: target, decision: decision),
                pollingInterval: resolved.pollingInterval, now: now, log: log, lastStatusWrite: lastStatusWrite)
            if case .requeue = result {
                metrics?.policy(
                    namespace: resolved.namespace, name: resolved.name, current: observation.scale.currentReplicas,
                    desired: decision.desiredReplicas, min: resolved.minReplicas, max: resolved.maxReplicas,
                    signals: decision.signals, shadow: plan.shadow)
            }
            return result
        }
    }

    private enum Reading {
        case held(ReconcilePlanner.Hold)
        case unreadable(any Error, pollingInterval: Double)
        case read(ResolvedPolicy, KubernetesAPIClient.DiscoveredResource, ReconcilePlanner.Observation)
    }

    /// The policy admitted, then another autoscaler of the same workload looked for (two writers would fight, so
    /// neither scales until it is resolved), then the target through discovery and its `/scale`, then its pods.
    private func read(_ policy: InferenceAutoscalePolicy, log: Logger) async -> Reading {
        let resolved: ResolvedPolicy
        switch ReconcilePlanner.admit(policy, permissions: permissions) {
        case .failure(let hold): return .held(hold)
        case .success(let value): resolved = value
        }
        func held(_ reason: ReconcileReason, _ message: String) -> Reading {
            .held(.init(reason, message, pollingInterval: resolved.pollingInterval))
        }
        // A shadow writes nothing, so it fights no one: it runs next to the scaler it is compared with.
        if !resolved.shadow, let other = await cluster.conflict(for: policy, target: resolved.target) {
            return held(.conflict, other)
        }
        let target: KubernetesAPIClient.DiscoveredResource
        let scale: Scale
        do {
            target = try await cluster.resolve(apiVersion: resolved.target.apiVersion, kind: resolved.target.kind)
            guard target.scalable else {
                return held(
                    .targetNotScalable,
                    "\(resolved.target.kind) in \(resolved.target.apiVersion) has no /scale subresource")
            }
            scale = try await cluster.scale(target.resource, namespace: resolved.namespace, name: resolved.target.name)
        } catch let error as KubernetesError where error.isNotFound {
            return held(
                .targetNotFound,
                "\(resolved.target.kind) \(resolved.namespace)/\(resolved.target.name): \(error.message)")
        } catch {
            log.info("cannot read the target", metadata: ["error": "\(error)"])
            return .unreadable(error, pollingInterval: resolved.pollingInterval)
        }
        let selector: LabelSelector
        do {
            selector = try LabelSelector(parsing: scale.status?.selector ?? "")
        } catch {
            return held(.invalidSelector, "\(error)")
        }
        do {
            let pods =
                selector.isEmpty
                ? []
                : try await cluster.pods(namespace: resolved.namespace, selector: selector).filter { !$0.terminating }
            let guardrails = await cluster.guardrails(
                target.resource, namespace: resolved.namespace, name: resolved.target.name)
            // The template's GPUs; a kind without one in the cache: what its pods ask for.
            let quota = QuotaCaps.cap(
                quotas: guardrails.quotas, gpusPerPod: guardrails.gpusPerReplica ?? pods.map(\.gpus).max() ?? 0,
                ownPods: pods.count, existing: scale.currentReplicas, failure: guardrails.replicaFailure)
            return .read(
                resolved, target,
                ReconcilePlanner.Observation(scale: scale, selector: selector, pods: pods, quota: quota))
        } catch {
            log.info("cannot list the target's pods", metadata: ["error": "\(error)"])
            return .unreadable(error, pollingInterval: resolved.pollingInterval)
        }
    }

    /// What a plan that scales needs to carry it out.
    private struct Scaling {
        var policy: ResolvedPolicy
        var target: KubernetesAPIClient.DiscoveredResource
        var decision: ScalingDecision
    }

    /// Carries the plan out in order. A step that fails does not end the round: the planner says what the rest of it
    /// becomes (`ReconcilePlanner.failed`), so status is written naming the step, and what did happen (a scale) is
    /// remembered for the retry. The history is remembered whatever failed.
    private func execute(
        _ plan: ReconcilePlan, policy: InferenceAutoscalePolicy,
        scaling: Scaling?, pollingInterval: Double, now: Date, log: Logger, lastStatusWrite: Date = .distantPast
    ) async -> ReconcileResult {
        let key = PolicyKey(policy)
        let (namespace, name) = (key.namespace, key.name)
        var statusWritten = lastStatusWrite
        var statusFailed = false
        var plan = plan
        func fail(_ step: ReconcileAction, _ error: any Error) {
            plan = ReconcilePlanner.failed(
                step, Self.stepFailure(error), rest: plan, previous: policy.status, lastStatusWrite: lastStatusWrite,
                pollingInterval: pollingInterval, now: now, valueRefresh: valueRefresh)
        }
        while !plan.actions.isEmpty {
            let action = plan.actions.removeFirst()
            switch action {
            case .markDeletionCosts(let pods):
                if let scaling { await markDeletionCosts(scaling.policy, pods: pods, now: now, log: log) }
            case .patchScale(let replicas):
                guard let scaling else { continue }
                do {
                    try await cluster.setScale(
                        scaling.target.resource, namespace: namespace, name: scaling.policy.target.name,
                        replicas: replicas)
                    log.info(
                        "scaled",
                        metadata: [
                            "scale.from": "\(scaling.decision.previousReplicas)", "scale.to": "\(replicas)",
                            "scale.reason": "\(scaling.decision.limitedBy)",
                        ])
                } catch {
                    log.warning("cannot scale the target", metadata: ["error": "\(error)"])
                    fail(action, error)
                }
            case .applyDisruptionBudget(let manifest):
                do {
                    try await cluster.applyDisruptionBudget(manifest, namespace: namespace, name: name)
                } catch let conflict as DisruptionBudgetConflict {
                    // Scaling goes on; the user's budget is theirs.
                    log.warning("PodDisruptionBudget not managed", metadata: ["error": "\(conflict)"])
                    plan = ReconcilePlanner.budgetNotOwned(
                        conflict.description, rest: plan, previous: policy.status, lastStatusWrite: lastStatusWrite,
                        now: now, valueRefresh: valueRefresh)
                } catch {
                    log.warning("cannot apply the PodDisruptionBudget", metadata: ["error": "\(error)"])
                    fail(action, error)
                }
            case .deleteDisruptionBudget:
                do {
                    try await cluster.deleteDisruptionBudget(
                        namespace: namespace, name: name, owner: policy.metadata.uid)
                } catch {
                    log.warning("cannot delete the PodDisruptionBudget", metadata: ["error": "\(error)"])
                    fail(action, error)
                }
            case .recordEvent(let event):
                if plan.reason != .reconciled {
                    log.warning(
                        "policy not ready", metadata: ["reason": "\(event.reason)", "message": "\(event.message)"])
                }
                await cluster.record(event, for: policy)
            case .updateStatus(let status):
                do {
                    try await cluster.updateStatus(of: policy, status: status)
                    statusWritten = now
                } catch {
                    // Every status is written again, a hold's too: one left stale would show an old reason forever.
                    log.info("cannot write status", metadata: ["error": "\(error)"])
                    statusFailed = true
                    fail(action, error)
                }
            }
        }
        if let history = plan.history {
            memory.withLock {
                $0[key] = PolicyMemory(
                    history: history, lastStatusWrite: statusWritten,
                    unwrittenOver: statusFailed ? .some(policy.status?.history) : nil,
                    shadowReplicas: plan.shadow == nil ? nil : scaling?.decision.desiredReplicas, shadow: plan.shadow)
            }
        }
        return plan.result
    }

    /// The API's reason and message, or what the transport said.
    static func stepFailure(_ error: any Error) -> StepFailure {
        if let error = error as? KubernetesError { return StepFailure(reason: error.reason, message: error.message) }
        if error is NotLeaderError { return StepFailure(reason: "NotLeader", message: "this replica no longer leads") }
        return StepFailure(reason: "RequestFailed", message: "\(error)")
    }

    /// `controller.kubernetes.io/pod-deletion-cost` = the requests a pod is serving, so that the ReplicaSet removes
    /// idle pods rather than ones mid-generation. Best effort: without per-pod values nothing is marked.
    private func markDeletionCosts(_ policy: ResolvedPolicy, pods: [String], now: Date, log: Logger) async {
        let running = await signals.runningRequests(for: policy, pods: pods, at: now)
        guard !running.isEmpty else { return }
        for pod in pods {
            // Pods with no value yet (still loading) cost nothing to remove.
            let cost = Int((running[pod] ?? 0).rounded())
            do {
                try await cluster.setDeletionCost(cost, namespace: policy.namespace, pod: pod)
            } catch {
                log.info("cannot set the pod deletion cost", metadata: ["pod": "\(pod)", "error": "\(error)"])
            }
        }
    }
}
