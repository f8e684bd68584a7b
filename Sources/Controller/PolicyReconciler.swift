import AutoscalerCore
import Foundation
import KubernetesClient
import KubernetesModel
import Logging
import Synchronization

/// What to do with a policy's key after a reconcile (controller-runtime's result, as a value).
public enum ReconcileResult: Sendable, Equatable {
    /// Read the signals again after this many seconds (metrics change without watch events).
    case requeue(after: Double)
    /// Something failed that may pass: retry with per-key backoff.
    case retry(reason: String)
    /// Nothing to do until the policy changes (an invalid spec).
    case waitForChange
}

/// One reconcile of one policy: read the target and its pods, read the signals, decide, patch `/scale`, keep the
/// PodDisruptionBudget in step, write status and events. Level-based: it reads everything each time.
public final class PolicyReconciler: Sendable {
    /// Signal values alone refresh status at most this often, so `kubectl get` stays current without a write every
    /// poll.
    public static let valueRefreshInterval = 60.0

    private struct Memory {
        /// The exact history of the last decision (status keeps it only when it changed materially).
        var history: DecisionHistory
        var lastStatusWrite: Date
    }

    /// The annotation that pauses a policy like `spec.paused: true`.
    public static let pausedAnnotation = "autoscaling.inference.dev/paused"
    static let deletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

    private let cluster: any ClusterAPI
    private let signals: any SignalSource
    private let logger: Logger
    private let metrics: ControllerMetrics?
    /// Namespaces whose policies may run `Custom` queries (`*`: all).
    private let customQueryNamespaces: Set<String>
    private let memory = Mutex<[String: Memory]>([:])

    public init(
        cluster: any ClusterAPI, signals: any SignalSource, metrics: ControllerMetrics? = nil,
        customQueryNamespaces: Set<String> = ["*"], logger: Logger = Logger(label: "inference-autoscaler.reconciler")
    ) {
        self.cluster = cluster
        self.signals = signals
        self.metrics = metrics
        self.customQueryNamespaces = customQueryNamespaces
        self.logger = logger
    }

    /// Forgets a deleted policy.
    public func forget(namespace: String, name: String) {
        _ = memory.withLock { $0.removeValue(forKey: "\(namespace)/\(name)") }
        metrics?.forget(namespace: namespace, name: name)
    }

    public func reconcile(_ policy: InferenceAutoscalePolicy, now: Date) async -> ReconcileResult {
        let namespace = policy.metadata.namespace ?? "default"
        let name = policy.metadata.name ?? ""
        let key = "\(namespace)/\(name)"
        var log = logger
        log[metadataKey: "policy.namespace"] = "\(namespace)"
        log[metadataKey: "policy.name"] = "\(name)"
        let previous = policy.status ?? PolicyStatus()

        // 1. The spec, checked again: the CRD installed may be older than this binary.
        let resolved: ResolvedPolicy
        switch PolicyValidator.resolve(policy) {
        case .failure(let failure):
            let message = failure.violations.map(\.description).joined(separator: "; ")
            await fail(policy, previous, reason: "InvalidSpec", message: message, now: now, log: log)
            return .waitForChange
        case .success(let value):
            resolved = value
        }

        // Paused: nothing is written but status.
        if resolved.paused || policy.metadata.annotations?[Self.pausedAnnotation] == "true" {
            let why = resolved.paused ? "spec.paused is true" : "the annotation \(Self.pausedAnnotation) is \"true\""
            await fail(
                policy, previous, reason: "Paused", message: "\(why): the target is not scaled and its PodDisruptionBudget not changed",
                kind: .normal, now: now, log: log)
            return .requeue(after: resolved.pollingInterval)
        }

        // Custom queries read any series and their values show in status: only where the operator allows them.
        if !customQueryNamespaces.contains("*"), !customQueryNamespaces.contains(namespace),
            let custom = resolved.signals.first(where: { $0.type == .custom })
        {
            await fail(
                policy, previous, reason: "CustomQueryNotAllowed",
                message: "signal \(custom.name) is a Custom query, which the controller allows only in namespaces given "
                    + "with --allow-custom-queries-in; \(namespace) is not one of them",
                now: now, log: log)
            return .waitForChange
        }

        // Another autoscaler of the same workload: two writers would fight, so neither scales until it is resolved.
        if let other = await cluster.conflict(for: policy, target: resolved.target) {
            await fail(policy, previous, reason: "Conflict", message: other, now: now, log: log)
            return .requeue(after: resolved.pollingInterval)
        }

        // 2. The target, through discovery and its /scale.
        let target: KubernetesAPIClient.DiscoveredResource
        let scale: Scale
        do {
            target = try await cluster.resolve(apiVersion: resolved.target.apiVersion, kind: resolved.target.kind)
            guard target.scalable else {
                await fail(
                    policy, previous, reason: "TargetNotScalable",
                    message: "\(resolved.target.kind) in \(resolved.target.apiVersion) has no /scale subresource", now: now,
                    log: log)
                return .waitForChange
            }
            scale = try await cluster.scale(target.resource, namespace: namespace, name: resolved.target.name)
        } catch let error as KubernetesError where error.isNotFound {
            await fail(
                policy, previous, reason: "TargetNotFound",
                message: "\(resolved.target.kind) \(namespace)/\(resolved.target.name): \(error.message)", now: now, log: log)
            return .retry(reason: "target not found")
        } catch {
            log.info("cannot read the target", metadata: ["error": "\(error)"])
            return .retry(reason: "\(error)")
        }

        // 3. Its pods: readiness and start times.
        let selector: LabelSelector
        do {
            selector = try LabelSelector(parsing: scale.status?.selector ?? "")
        } catch {
            await fail(policy, previous, reason: "InvalidSelector", message: "\(error)", now: now, log: log)
            return .retry(reason: "\(error)")
        }
        let pods: [PodInfo]
        do {
            pods = selector.isEmpty ? [] : try await cluster.pods(namespace: namespace, selector: selector).filter { !$0.terminating }
        } catch {
            log.info("cannot list the target's pods", metadata: ["error": "\(error)"])
            return .retry(reason: "\(error)")
        }
        let observed = ObservedScale(
            desiredReplicas: scale.desiredReplicas, currentReplicas: scale.currentReplicas,
            readyReplicas: pods.filter(\.ready).count,
            pods: pods.map { ObservedPod(name: $0.name, createdAt: $0.createdAt, ready: $0.ready, readySince: $0.readySince) })

        // 4. Signals and the decision, from the exact history of the last round when status still agrees with it.
        let samples = await signals.samples(for: resolved, pods: pods.map(\.name), at: now)
        let persisted = previous.history ?? DecisionHistory()
        let remembered = memory.withLock { $0[key] }
        let history = remembered.flatMap { $0.history.materiallyEquals(persisted) ? $0.history : nil } ?? persisted
        let decision = ScalingDecider.decide(
            policy: resolved, observed: observed, samples: samples, history: history, now: now)

        // 5. Scale; before a scale-down, the idlest pods are marked the cheapest to delete.
        var lastScaleTime = previous.lastScaleTime
        if decision.changesReplicas {
            if decision.desiredReplicas < scale.desiredReplicas, decision.desiredReplicas > 0 {
                await markDeletionCosts(resolved, pods: pods, now: now, log: log)
            }
            do {
                try await cluster.setScale(
                    target.resource, namespace: namespace, name: resolved.target.name, replicas: decision.desiredReplicas)
            } catch {
                // Not carried out: the history of this round is not kept.
                log.warning("cannot scale the target", metadata: ["error": "\(error)"])
                await cluster.record(
                    PolicyEvent(.warning, "ScaleFailed", "cannot scale \(resolved.target.name) to \(decision.desiredReplicas): \(error)"),
                    for: policy)
                return .retry(reason: "\(error)")
            }
            lastScaleTime = Timestamp.format(now)
            log.info(
                "scaled",
                metadata: [
                    "scale.from": "\(decision.previousReplicas)", "scale.to": "\(decision.desiredReplicas)",
                    "scale.reason": "\(decision.limitedBy)",
                ])
            await cluster.record(scaleEvent(decision, target: resolved.target.name), for: policy)
        }

        // 6. The PodDisruptionBudget follows the replica count and disappears at zero.
        var conditions = decision.conditions
        conditions.append(
            PolicyCondition(
                type: "Ready", status: .true, reason: "Reconciled",
                message: "scaling \(resolved.target.kind) \(resolved.target.name) (\(decision.message))"))
        var dropped: Set<String> = []
        let managesBudget = previous.conditions?.contains { $0.type == "DisruptionBudget" } ?? false
        if let budget = resolved.disruptionBudget, decision.desiredReplicas > 0 {
            do {
                try await cluster.applyDisruptionBudget(
                    DisruptionBudgetManifest.make(for: policy, budget: budget, selector: selector), namespace: namespace,
                    name: name)
            } catch {
                log.warning("cannot apply the PodDisruptionBudget", metadata: ["error": "\(error)"])
                return .retry(reason: "\(error)")
            }
            let allowed = DisruptionBudgetManifest.allowedDisruptions(budget, replicas: decision.desiredReplicas)
            conditions.append(
                allowed > 0
                    ? PolicyCondition(
                        type: "DisruptionBudget", status: .true, reason: "DisruptionsAllowed",
                        message: "\(allowed) of \(decision.desiredReplicas) pods may be disrupted")
                    : PolicyCondition(
                        type: "DisruptionBudget", status: .false, reason: "NoDisruptionAllowed",
                        message: "at \(decision.desiredReplicas) replicas the budget allows no voluntary disruption: node drains will block"))
        } else if managesBudget {
            do {
                try await cluster.deleteDisruptionBudget(namespace: namespace, name: name)
            } catch {
                return .retry(reason: "\(error)")
            }
            dropped.insert("DisruptionBudget")
        }

        // 7. Status (only when something changed) and the events of transitions.
        var status = previous
        status.observedGeneration = policy.metadata.generation
        status.currentReplicas = scale.currentReplicas
        status.readyReplicas = observed.readyReplicas
        status.desiredReplicas = decision.desiredReplicas
        status.lastScaleTime = lastScaleTime
        status.limitedBy = decision.limitedBy.description
        status.signals = decision.signals
        status.history = decision.history
        status.conditions = PolicyCondition.merge(
            (previous.conditions ?? []).filter { !dropped.contains($0.type) }, with: conditions, now: now,
            observedGeneration: policy.metadata.generation)
        await recordTransitions(from: previous, to: status, decision: decision, policy: policy)

        let lastWrite = remembered?.lastStatusWrite ?? .distantPast
        if Self.needsWrite(previous, status, lastWrite: lastWrite, now: now) {
            do {
                try await cluster.updateStatus(of: policy, status: status)
            } catch {
                log.info("cannot write status", metadata: ["error": "\(error)"])
                memory.withLock { $0[key] = Memory(history: decision.history, lastStatusWrite: lastWrite) }
                return .retry(reason: "\(error)")
            }
            memory.withLock { $0[key] = Memory(history: decision.history, lastStatusWrite: now) }
        } else {
            memory.withLock { $0[key] = Memory(history: decision.history, lastStatusWrite: lastWrite) }
        }
        metrics?.policy(
            namespace: namespace, name: name, current: scale.currentReplicas, desired: decision.desiredReplicas,
            min: resolved.minReplicas, max: resolved.maxReplicas, signals: decision.signals)
        return .requeue(after: resolved.pollingInterval)
    }

    /// `controller.kubernetes.io/pod-deletion-cost` = the requests a pod is serving, so that the ReplicaSet removes
    /// idle pods rather than ones mid-generation. Best effort: without per-pod values nothing is marked.
    private func markDeletionCosts(_ policy: ResolvedPolicy, pods: [PodInfo], now: Date, log: Logger) async {
        let running = await signals.runningRequests(for: policy, pods: pods.map(\.name), at: now)
        guard !running.isEmpty else { return }
        for pod in pods {
            // Pods with no value yet (still loading) cost nothing to remove.
            let cost = Int((running[pod.name] ?? 0).rounded())
            do {
                try await cluster.setDeletionCost(cost, namespace: policy.namespace, pod: pod.name)
            } catch {
                log.info("cannot set the pod deletion cost", metadata: ["pod": "\(pod.name)", "error": "\(error)"])
            }
        }
    }

    /// Ready=False with a reason; written and announced only when it is news.
    private func fail(
        _ policy: InferenceAutoscalePolicy, _ previous: PolicyStatus, reason: String, message: String,
        kind: PolicyEvent.Kind = .warning, now: Date, log: Logger
    ) async {
        var status = previous
        status.observedGeneration = policy.metadata.generation
        status.conditions = PolicyCondition.merge(
            previous.conditions ?? [],
            with: [PolicyCondition(type: "Ready", status: .false, reason: reason, message: message)], now: now,
            observedGeneration: policy.metadata.generation)
        let before = previous.conditions?.first { $0.type == "Ready" }
        if before?.reason != reason || before?.message != message || before?.status != .false {
            log.warning("policy not ready", metadata: ["reason": "\(reason)", "message": "\(message)"])
            await cluster.record(PolicyEvent(kind, reason, message), for: policy)
        }
        if status != previous {
            try? await cluster.updateStatus(of: policy, status: status)
        }
    }

    private func scaleEvent(_ decision: ScalingDecision, target: String) -> PolicyEvent {
        let from = decision.previousReplicas
        let to = decision.desiredReplicas
        var why: String
        if case .signal = decision.limitedBy {
            why = decision.message
        } else {
            why = "limited by \(decision.limitedBy)"
            // The signal that asked for the most, so the note says what the rule held back.
            if let strongest = decision.signals.filter({ $0.recommendation != nil })
                .max(by: { $0.recommendation! < $1.recommendation! }), let value = strongest.value
            {
                let name = strongest.name ?? strongest.type
                why += "; \(name) \(String(format: "%.4g", value)) against target "
                    + "\(String(format: "%.4g", strongest.target)) asked for \(strongest.recommendation!)"
            }
        }
        if to == 0 { return PolicyEvent(.normal, "ScaledToZero", "\(target): \(from) -> 0 replicas, \(why)") }
        if from == 0 { return PolicyEvent(.normal, "ActivatedFromZero", "\(target): 0 -> \(to) replicas, \(why)") }
        return PolicyEvent(.normal, to > from ? "ScaledUp" : "ScaledDown", "\(target): \(from) -> \(to) replicas, \(why)")
    }

    private func recordTransitions(
        from previous: PolicyStatus, to status: PolicyStatus, decision: ScalingDecision, policy: InferenceAutoscalePolicy
    ) async {
        func condition(_ status: PolicyStatus, _ type: String) -> PolicyCondition? {
            status.conditions?.first { $0.type == type }
        }
        let wasFallback = condition(previous, "Fallback")?.status == .true
        let isFallback = condition(status, "Fallback")?.status == .true
        if isFallback, !wasFallback {
            await cluster.record(PolicyEvent(.warning, "FallbackActivated", condition(status, "Fallback")?.message ?? ""), for: policy)
        } else if wasFallback, !isFallback {
            await cluster.record(PolicyEvent(.normal, "FallbackDeactivated", "signals readable again"), for: policy)
        }
        let metrics = condition(status, "MetricsAvailable")
        if metrics?.status == .false, condition(previous, "MetricsAvailable")?.status != .false {
            await cluster.record(PolicyEvent(.warning, "MetricsUnavailable", metrics?.message ?? ""), for: policy)
        }
    }

    /// A write when anything but the signal values changed; values alone at most every `valueRefreshInterval`.
    static func needsWrite(_ old: PolicyStatus, _ new: PolicyStatus, lastWrite: Date, now: Date) -> Bool {
        func stripped(_ status: PolicyStatus) -> PolicyStatus {
            var copy = status
            copy.signals = status.signals?.map { signal in
                var signal = signal
                signal.value = nil
                return signal
            }
            copy.history = nil
            return copy
        }
        if stripped(old) != stripped(new) { return true }
        if !(new.history ?? DecisionHistory()).materiallyEquals(old.history ?? DecisionHistory()) { return true }
        return old.signals != new.signals && now.timeIntervalSince(lastWrite) >= valueRefreshInterval
    }
}

extension DecisionHistory {
    /// Equal for every future decision but the exact age of the newest recommendation of each value: in a steady
    /// state the history changes only its timestamps, which is no reason to write status.
    func materiallyEquals(_ other: DecisionHistory) -> Bool {
        recommendations.map(\.replicas) == other.recommendations.map(\.replicas) && scaleEvents == other.scaleEvents
            && consecutiveFailures == other.consecutiveFailures && idleSince == other.idleSince
            && learnedStartupSeconds == other.learnedStartupSeconds
    }
}
