import AutoscalerCore
import Foundation
import KubernetesModel

/// What to do with a policy's key after a reconcile (controller-runtime's result, as a value).
public enum ReconcileResult: Sendable, Equatable {
    /// Read the signals again after this many seconds (metrics change without watch events).
    case requeue(after: Double)
    /// Something failed that may pass: retry with per-key backoff, never later than `within` seconds (the polling
    /// interval: a policy whose writes failed for a while is looked at again as soon as a healthy one would be).
    case retry(reason: String, within: Double? = nil)
    /// Nothing to do until the policy changes (an invalid spec).
    case waitForChange
}

/// Why a policy is or is not being scaled: the reason of its `Ready` condition and of the Event that announces it.
public enum ReconcileReason: String, Sendable, Equatable, CaseIterable {
    case reconciled = "Reconciled"
    case invalidSpec = "InvalidSpec"
    case paused = "Paused"
    case customQueryNotAllowed = "CustomQueryNotAllowed"
    case prometheusNotAllowed = "PrometheusNotAllowed"
    case conflict = "Conflict"
    case targetNotScalable = "TargetNotScalable"
    case targetNotFound = "TargetNotFound"
    case invalidSelector = "InvalidSelector"
    /// The decision was made but the target's `/scale` refused it.
    case scaleFailed = "ScaleFailed"

    public enum Classification: Sendable, Equatable {
        /// Scaling as asked.
        case healthy
        /// Held by a choice someone made (paused, another autoscaler): looked at again every polling interval.
        case held
        /// May pass by itself (the target appears): retried with backoff.
        case retryable
        /// Only a change to the policy can fix it: not retried.
        case terminal
    }

    public var classification: Classification {
        switch self {
        case .reconciled: .healthy
        case .paused, .conflict: .held
        case .targetNotFound, .invalidSelector, .scaleFailed: .retryable
        case .invalidSpec, .customQueryNotAllowed, .prometheusNotAllowed, .targetNotScalable: .terminal
        }
    }

    /// What the work queue does with a policy that ended for this reason.
    public func result(pollingInterval: Double) -> ReconcileResult {
        switch classification {
        case .healthy, .held: .requeue(after: pollingInterval)
        case .retryable: .retry(reason: summary, within: pollingInterval)
        case .terminal: .waitForChange
        }
    }

    /// A few words for logs.
    public var summary: String {
        switch self {
        case .reconciled: "reconciled"
        case .invalidSpec: "invalid spec"
        case .paused: "paused"
        case .customQueryNotAllowed: "custom query not allowed"
        case .prometheusNotAllowed: "Prometheus settings not allowed"
        case .conflict: "another autoscaler scales the target"
        case .targetNotScalable: "target not scalable"
        case .targetNotFound: "target not found"
        case .invalidSelector: "invalid selector"
        case .scaleFailed: "the scale was refused"
        }
    }

    /// Pausing is a person's choice, not a fault.
    var eventKind: PolicyEvent.Kind { self == .paused ? .normal : .warning }
}

/// One step of a reconcile, for the reconciler to carry out in order.
public enum ReconcileAction: Sendable, Equatable {
    /// Before a scale-down: `controller.kubernetes.io/pod-deletion-cost` on these pods from the requests each
    /// serves, so that the ReplicaSet removes idle pods rather than ones mid-generation.
    case markDeletionCosts(pods: [String])
    /// `spec.replicas` of the target's `/scale`.
    case patchScale(replicas: Int)
    /// Server-side apply of the policy's PodDisruptionBudget.
    case applyDisruptionBudget(JSONValue)
    case deleteDisruptionBudget
    case recordEvent(PolicyEvent)
    /// Through `/status`.
    case updateStatus(PolicyStatus)
}

/// What a reconcile will do, and why: the actions in order, the reason shown in `Ready`, the work queue's result, and
/// the decision's history to remember once the actions are carried out.
public struct ReconcilePlan: Sendable, Equatable {
    public var actions: [ReconcileAction]
    public var reason: ReconcileReason
    public var result: ReconcileResult
    /// Nil when no decision was made.
    public var history: DecisionHistory?
    /// A shadow policy's counters after this round (status keeps them only every `valueRefreshInterval`).
    public var shadow: ShadowStatus?
    /// The status this round arrived at, written or not (`.updateStatus` is among the actions only when it is news):
    /// a failed step amends it.
    public var status: PolicyStatus?

    public init(
        actions: [ReconcileAction], reason: ReconcileReason, result: ReconcileResult, history: DecisionHistory? = nil,
        shadow: ShadowStatus? = nil, status: PolicyStatus? = nil
    ) {
        self.actions = actions
        self.reason = reason
        self.result = result
        self.history = history
        self.shadow = shadow
        self.status = status
    }
}

extension ReconcilePlan {
    /// Takes `status` as the round's, written (as the last step) only if it is news against `previous`.
    mutating func settle(
        _ status: PolicyStatus, previous: PolicyStatus?, lastStatusWrite: Date, now: Date, valueRefresh: Double
    ) {
        self.status = status
        actions.removeAll {
            if case .updateStatus = $0 { return true }
            return false
        }
        if ReconcilePlanner.needsWrite(
            previous ?? PolicyStatus(), status, lastWrite: lastStatusWrite, now: now, valueRefresh: valueRefresh)
        {
            actions.append(.updateStatus(status))
        }
    }
}

/// What the controller keeps of a policy between rounds, besides its status.
public struct PolicyMemory: Sendable, Equatable {
    /// The exact history of the last decision (status keeps it only when it changed materially).
    public var history: DecisionHistory
    public var lastStatusWrite: Date
    /// Set when the last round's status write failed: the history status held when that round read it. While status
    /// still holds exactly that (nobody wrote it since), the memory is newer than status and wins.
    public var unwrittenOver: DecisionHistory??
    /// A shadow policy's own replica count and counters (for the spec generation `shadow` names).
    public var shadowReplicas: Int?
    public var shadow: ShadowStatus?

    public init(
        history: DecisionHistory, lastStatusWrite: Date, unwrittenOver: DecisionHistory?? = nil,
        shadowReplicas: Int? = nil, shadow: ShadowStatus? = nil
    ) {
        self.history = history
        self.lastStatusWrite = lastStatusWrite
        self.unwrittenOver = unwrittenOver
        self.shadowReplicas = shadowReplicas
        self.shadow = shadow
    }
}

/// A step of a round that the API server refused, or that never reached it.
public struct StepFailure: Error, Sendable, Equatable {
    /// The API's reason (`Forbidden`, `Conflict`, `TooManyRequests`, …); `RequestFailed` when no answer came.
    public var reason: String
    public var message: String

    public init(reason: String, message: String) {
        self.reason = reason
        self.message = message
    }

    /// `Forbidden: deployments.apps "vllm" is forbidden: …`.
    public var description: String { "\(reason): \(message)" }
}

/// The pure half of a reconcile: from what was read (the policy, its previous status, the target's `/scale` and
/// pods, the decision) and `now`, the plan. No I/O and no clock: every rule here is a table test.
public enum ReconcilePlanner {
    /// The annotation that pauses a policy like `spec.paused: true`.
    public static let pausedAnnotation = "autoscaling.inference.dev/paused"
    /// Signal values, and condition messages that carry them, refresh status at most this often: `kubectl get` and
    /// `describe` stay current within a few minutes without a write every poll (a thousand policies would otherwise
    /// write a thousand times a poll).
    public static let valueRefreshInterval = 180.0

    /// A policy that is not scaled: why, and when to look again (its polling interval).
    public struct Hold: Error, Sendable, Equatable {
        public var reason: ReconcileReason
        public var message: String
        public var pollingInterval: Double

        public init(_ reason: ReconcileReason, _ message: String, pollingInterval: Double) {
            self.reason = reason
            self.message = message
            self.pollingInterval = pollingInterval
        }
    }

    /// A round, once `admit` let the policy through and the target, its pods and the signals were read: the decision
    /// from what was read and what was remembered, then its plan (whose `history` and `shadow` are what to remember,
    /// and `failed` says what a failed step leaves of them).
    public static func round(
        policy: InferenceAutoscalePolicy, resolved: ResolvedPolicy, observation: Observation, samples: [SignalSample],
        workload: WorkloadSample?, memory: PolicyMemory?, now: Date, markDeletionCosts: Bool = true,
        valueRefresh: Double = valueRefreshInterval
    ) -> (plan: ReconcilePlan, decision: ScalingDecision) {
        var observed = observation.observedScale
        // What was remembered of an earlier spec is not this one's.
        let shadowOfThisSpec = memory?.shadow?.generation == policy.metadata.generation
        if resolved.shadow {
            // A shadow scales its own imagined fleet: its rate limits and windows follow its own count, while the
            // signals are what the real pods report.
            observed.desiredReplicas = shadowReplicas(
                policy: policy, remembered: shadowOfThisSpec ? memory?.shadowReplicas : nil,
                live: observed.desiredReplicas)
        }
        let decision = ScalingDecider.decide(
            policy: resolved, observed: observed, samples: samples,
            history: history(
                for: policy, resolved: resolved, remembered: memory?.history,
                newerThanStatus: memory?.unwrittenOver.map { $0 == policy.status?.history } ?? false),
            workload: workload, now: now)
        let plan = plan(
            decision, policy: policy, resolved: resolved, observation: observation,
            lastStatusWrite: memory?.lastStatusWrite ?? .distantPast, now: now, markDeletionCosts: markDeletionCosts,
            shadow: shadowOfThisSpec ? memory?.shadow : nil, valueRefresh: valueRefresh)
        return (plan, decision)
    }

    /// The checks made before anything is read: a valid spec (the CRD installed may be older than this binary), not
    /// paused, and only what the operator permits tenants (Custom queries, Prometheus addresses, headers, TLS). The
    /// resolved policy, or why it is held.
    public static func admit(
        _ policy: InferenceAutoscalePolicy, permissions: TenantPermissions
    ) -> Result<ResolvedPolicy, Hold> {
        let resolved: ResolvedPolicy
        switch PolicyValidator.resolve(policy) {
        case .failure(let failure):
            let message = failure.violations.map(\.description).joined(separator: "; ")
            return .failure(Hold(.invalidSpec, message, pollingInterval: PolicyDefaults.pollingInterval))
        case .success(let value):
            resolved = value
        }
        if resolved.paused || policy.metadata.annotations?[pausedAnnotation] == "true" {
            let why = resolved.paused ? "spec.paused is true" : "the annotation \(pausedAnnotation) is \"true\""
            let message = "\(why): the target is not scaled and its PodDisruptionBudget not changed"
            return .failure(Hold(.paused, message, pollingInterval: resolved.pollingInterval))
        }
        // Custom queries read any series and their values show in status; an address or header reaches other hosts
        // or tenants with the controller's network identity.
        switch permissions.refusal(for: resolved) {
        case .customQuery(let message):
            return .failure(Hold(.customQueryNotAllowed, message, pollingInterval: resolved.pollingInterval))
        case .prometheus(let message):
            return .failure(Hold(.prometheusNotAllowed, message, pollingInterval: resolved.pollingInterval))
        case nil:
            break
        }
        return .success(resolved)
    }

    /// `Ready=False` with the hold's reason; announced by an Event and written only when it is news.
    public static func hold(_ hold: Hold, policy: InferenceAutoscalePolicy, now: Date) -> ReconcilePlan {
        let previous = policy.status ?? PolicyStatus()
        var status = previous
        status.observedGeneration = policy.metadata.generation
        status.conditions = PolicyCondition.merge(
            previous.conditions ?? [],
            with: [PolicyCondition(type: .ready, status: .false, reason: hold.reason.rawValue, message: hold.message)],
            now: now, observedGeneration: policy.metadata.generation)
        var actions: [ReconcileAction] = []
        let before = previous.conditions?.first { $0.is(.ready) }
        if before?.reason != hold.reason.rawValue || before?.message != hold.message || before?.status != .false {
            actions.append(.recordEvent(PolicyEvent(hold.reason.eventKind, hold.reason.rawValue, hold.message)))
        }
        if status != previous { actions.append(.updateStatus(status)) }
        return ReconcilePlan(
            actions: actions, reason: hold.reason, result: hold.reason.result(pollingInterval: hold.pollingInterval),
            status: status)
    }

    /// The history a policy's decision starts from. A policy that was a shadow until this spec starts its windows and
    /// rate periods afresh: they describe a fleet that never ran (what it learned of the pods is kept).
    /// `newerThanStatus`: the last round's status write failed and status is still what that round read, so the
    /// remembered history (with the scale that round made) is the newer one.
    public static func history(
        for policy: InferenceAutoscalePolicy, resolved: ResolvedPolicy, remembered: DecisionHistory?,
        newerThanStatus: Bool = false
    ) -> DecisionHistory {
        if newerThanStatus, let remembered { return remembered }
        guard !resolved.shadow, policy.status?.shadow != nil else {
            return history(persisted: policy.status?.history, remembered: remembered)
        }
        var fresh = policy.status?.history ?? DecisionHistory()
        fresh.recommendations = []
        fresh.scaleEvents = []
        fresh.idleSince = nil
        return fresh
    }

    /// The history the decision starts from: the exact one remembered from the last round while status still
    /// agrees with it (status keeps it only when it changed materially), else status's.
    public static func history(persisted: DecisionHistory?, remembered: DecisionHistory?) -> DecisionHistory {
        let persisted = persisted ?? DecisionHistory()
        guard let remembered, remembered.materiallyEquals(persisted) else { return persisted }
        return remembered
    }

    /// What was read of the target.
    public struct Observation: Sendable, Equatable {
        public var scale: Scale
        public var selector: LabelSelector
        /// The target's pods that are not terminating.
        public var pods: [PodInfo]
        /// What the namespace's ResourceQuotas leave room for.
        public var quota: QuotaCap?

        public init(scale: Scale, selector: LabelSelector, pods: [PodInfo], quota: QuotaCap? = nil) {
            self.scale = scale
            self.selector = selector
            self.pods = pods
            self.quota = quota
        }

        /// The decision's view of it.
        public var observedScale: ObservedScale {
            ObservedScale(
                desiredReplicas: scale.desiredReplicas, currentReplicas: scale.currentReplicas,
                readyReplicas: pods.filter(\.ready).count,
                pods: pods.map {
                    ObservedPod(
                        name: $0.name, createdAt: $0.createdAt, ready: $0.ready, readySince: $0.readySince,
                        unschedulable: $0.unschedulable)
                }, quota: quota)
        }
    }

    /// The count a shadow policy decides from: its own, as it would have scaled, once it has one for this spec;
    /// the workload's when it starts.
    public static func shadowReplicas(policy: InferenceAutoscalePolicy, remembered: Int?, live: Int) -> Int {
        if let remembered { return remembered }
        guard let status = policy.status, let shadow = status.shadow, shadow.generation == policy.metadata.generation,
            let desired = status.desiredReplicas
        else { return live }
        return desired
    }

    /// A shadow policy's counters advanced by the time since they were last advanced, during which it had
    /// `replicas`, the workload `liveReplicas` and its live scaler asked for `liveDesired`. A gap longer than three
    /// polling intervals (a restart, a lost leadership) is left out rather than guessed; a spec change starts over.
    public static func advanceShadow(
        _ previous: ShadowStatus?, generation: Int?, replicas: Int, liveReplicas: Int, liveDesired: Int,
        pollingInterval: Double, now: Date
    ) -> ShadowStatus {
        let stamp = Timestamp.format(now)
        guard var shadow = previous, shadow.generation == generation else {
            return ShadowStatus(since: stamp, lastObserved: stamp, generation: generation)
        }
        let elapsed = shadow.lastObserved.flatMap(Timestamp.parse).map { now.timeIntervalSince($0) } ?? 0
        if elapsed > 0, elapsed <= 3 * pollingInterval {
            shadow.observedSeconds += elapsed
            shadow.replicaSeconds += elapsed * Double(replicas)
            shadow.liveReplicaSeconds += elapsed * Double(liveReplicas)
            if replicas < liveDesired { shadow.belowLiveSeconds += elapsed }
        }
        shadow.lastObserved = stamp
        return shadow
    }

    /// The `Shadow` condition: the counterfactual in one sentence.
    static func shadowCondition(_ shadow: ShadowStatus) -> PolicyCondition {
        guard shadow.observedSeconds > 0, shadow.liveReplicaSeconds > 0 else {
            return PolicyCondition(
                type: .shadow, status: .true, reason: "ShadowMode",
                message: "deciding without writing to the target; nothing compared yet")
        }
        let change = (shadow.replicaSeconds / shadow.liveReplicaSeconds - 1) * 100
        let below = shadow.belowLiveSeconds / shadow.observedSeconds * 100
        return PolicyCondition(
            type: .shadow, status: .true, reason: "ShadowMode",
            message: String(
                format: "over %.0f s: would have used %.2f replica-hours where the workload ran %.2f (%+.0f %%), "
                    + "below the live scaler's count %.1f %% of the time",
                shadow.observedSeconds, shadow.replicaSeconds / 3600, shadow.liveReplicaSeconds / 3600, change, below))
    }

    /// A decision carried out:
    /// 1. before a scale-down (not to zero), the pods' deletion costs; then the scale and its Event;
    /// 2. the PodDisruptionBudget follows the replica count and disappears at zero (or when the spec drops it);
    /// 3. the Events of transitions (fallback on or off, metrics lost);
    /// 4. status, when anything but the signal values changed, or the values after `valueRefreshInterval`.
    ///
    /// In shadow mode (`resolved.shadow`) only 3 and 4: the scale becomes a `Would…` Event, and `shadow` (the
    /// counters remembered from the last round, if any) is advanced into `status.shadow`.
    public static func plan(
        _ decision: ScalingDecision, policy: InferenceAutoscalePolicy, resolved: ResolvedPolicy,
        observation: Observation, lastStatusWrite: Date, now: Date, markDeletionCosts: Bool = true,
        shadow rememberedShadow: ShadowStatus? = nil, valueRefresh: Double = valueRefreshInterval
    ) -> ReconcilePlan {
        let previous = policy.status ?? PolicyStatus()
        let scale = observation.scale
        var actions: [ReconcileAction] = []
        var lastScaleTime = previous.lastScaleTime
        if decision.changesReplicas {
            if resolved.shadow {
                actions.append(.recordEvent(shadowEvent(scaleEvent(decision, target: resolved.target.name))))
            } else {
                if markDeletionCosts, decision.desiredReplicas < scale.desiredReplicas, decision.desiredReplicas > 0 {
                    actions.append(.markDeletionCosts(pods: observation.pods.map(\.name)))
                }
                actions.append(.patchScale(replicas: decision.desiredReplicas))
                actions.append(.recordEvent(scaleEvent(decision, target: resolved.target.name)))
            }
            lastScaleTime = Timestamp.format(now)
        }

        var conditions = decision.conditions
        var dropped: Set<String> = []
        var shadow: ShadowStatus?
        if resolved.shadow {
            shadow = advanceShadow(
                rememberedShadow ?? previous.shadow, generation: policy.metadata.generation,
                replicas: decision.previousReplicas, liveReplicas: scale.currentReplicas,
                liveDesired: scale.desiredReplicas, pollingInterval: resolved.pollingInterval, now: now)
            conditions.append(shadowCondition(shadow!))
            conditions.append(
                PolicyCondition(
                    type: .ready, status: .true, reason: ReconcileReason.reconciled.rawValue,
                    message: "shadow of \(resolved.target.kind) \(resolved.target.name), nothing written to it "
                        + "(\(decision.message))"))
            // A shadow touches no budget: one an earlier active spec applied is left as it is.
        } else {
            conditions.append(
                PolicyCondition(
                    type: .ready, status: .true, reason: ReconcileReason.reconciled.rawValue,
                    message: "scaling \(resolved.target.kind) \(resolved.target.name) (\(decision.message))"))
            if previous.conditions?.contains(where: { $0.is(.shadow) }) ?? false {
                dropped.insert(PolicyConditionType.shadow.rawValue)
            }
            if let budget = resolved.disruptionBudget, decision.desiredReplicas > 0 {
                actions.append(
                    .applyDisruptionBudget(
                        DisruptionBudgetManifest.make(for: policy, budget: budget, selector: observation.selector)))
                conditions.append(budgetCondition(budget, replicas: decision.desiredReplicas))
            } else if previous.conditions?.contains(where: { $0.is(.disruptionBudget) }) ?? false {
                actions.append(.deleteDisruptionBudget)
                dropped.insert(PolicyConditionType.disruptionBudget.rawValue)
            }
        }

        var status = previous
        status.observedGeneration = policy.metadata.generation
        status.currentReplicas = scale.currentReplicas
        status.readyReplicas = observation.pods.filter(\.ready).count
        status.desiredReplicas = decision.desiredReplicas
        status.lastScaleTime = lastScaleTime
        status.limitedBy = decision.limitedBy.description
        status.signals = decision.signals
        status.objective = decision.objective
        status.history = decision.history
        status.shadow = shadow
        status.conditions = PolicyCondition.merge(
            (previous.conditions ?? []).filter { !dropped.contains($0.type) }, with: conditions, now: now,
            observedGeneration: policy.metadata.generation)
        actions += transitionEvents(from: previous, to: status).map(ReconcileAction.recordEvent)
        if needsWrite(previous, status, lastWrite: lastStatusWrite, now: now, valueRefresh: valueRefresh) {
            actions.append(.updateStatus(status))
        }
        return ReconcilePlan(
            actions: actions, reason: .reconciled, result: .requeue(after: resolved.pollingInterval),
            history: decision.history, shadow: shadow, status: status)
    }

    /// The rest of a round after one of its steps failed. Every step's failure is defined, and status is written
    /// either way, naming what failed:
    /// - the scale: it was not made. This round's scale event leaves the history (stabilization windows and rate
    ///   limits count only scales that happened) and `lastScaleTime` stays; `Ready=False` `ScaleFailed` carries the
    ///   API's reason and message; the `Scaled…` Event becomes a `ScaleFailed` warning; a budget the scale to zero
    ///   would have deleted stays, for the pods that still run; retried.
    /// - the budget's apply or delete: the scale stands and is remembered; `DisruptionBudget=False` with
    ///   `ApplyFailed` or `DeleteFailed`; retried. A budget of that name that the policy does not own is no failure
    ///   to retry: `DisruptionBudget=False` `NotOwned`, and the policy polls on.
    /// - status: everything before it stands and is remembered; retried.
    /// - deletion costs and Events are best effort and never fail a round.
    ///
    /// `rest` is the plan without the failed step and those before it; `previous` the status the round started from.
    public static func failed(
        _ step: ReconcileAction, _ failure: StepFailure, rest: ReconcilePlan, previous: PolicyStatus?,
        lastStatusWrite: Date, pollingInterval: Double, now: Date, valueRefresh: Double = valueRefreshInterval
    ) -> ReconcilePlan {
        var plan = rest
        var status = plan.status ?? previous ?? PolicyStatus()
        var condition: PolicyCondition?
        switch step {
        case .patchScale(let replicas):
            let from = status.history?.scaleEvents.last { $0.time == now }.map { replicas - $0.change }
            plan.history?.scaleEvents.removeAll { $0.time == now }
            status.history = plan.history
            status.lastScaleTime = previous?.lastScaleTime
            let message =
                "cannot scale the target\(from.map { " from \($0)" } ?? "") to \(replicas): \(failure.description)"
            condition = PolicyCondition(
                type: .ready, status: .false, reason: ReconcileReason.scaleFailed.rawValue, message: message)
            let scaleReasons = Set(PolicyEventReason.shadowed.keys.map(\.rawValue))
            let deletesBudget = plan.actions.contains(.deleteDisruptionBudget)
            plan.actions = plan.actions.compactMap { action in
                switch action {
                case .recordEvent(let event) where scaleReasons.contains(event.reason):
                    return .recordEvent(PolicyEvent(.warning, PolicyEventReason.scaleFailed, message))
                // The budget protects the pods that still run: not deleted for a zero that never came.
                case .deleteDisruptionBudget: return nil
                default: return action
                }
            }
            if deletesBudget {
                status.conditions = restoring(
                    PolicyConditionType.disruptionBudget.rawValue, in: status.conditions ?? [], from: previous)
            }
            plan.reason = .scaleFailed
        case .applyDisruptionBudget:
            condition = PolicyCondition(
                type: .disruptionBudget, status: .false, reason: "ApplyFailed",
                message: "cannot apply the PodDisruptionBudget: \(failure.description)")
        case .deleteDisruptionBudget:
            condition = PolicyCondition(
                type: .disruptionBudget, status: .false, reason: "DeleteFailed",
                message: "cannot delete the PodDisruptionBudget: \(failure.description)")
        case .updateStatus:
            plan.result = .retry(reason: failure.description, within: pollingInterval)
            return plan
        case .markDeletionCosts, .recordEvent:
            return plan
        }
        if let condition { status.conditions = replacing(in: status, with: condition, previous: previous, now: now) }
        plan.settle(status, previous: previous, lastStatusWrite: lastStatusWrite, now: now, valueRefresh: valueRefresh)
        plan.result = .retry(reason: failure.description, within: pollingInterval)
        return plan
    }

    /// `conditions` with `condition` merged over what the round started from: the plan's own (successful) version of
    /// that type never happened, so a failure that persists keeps its first transition time.
    static func replacing(
        in status: PolicyStatus, with condition: PolicyCondition, previous: PolicyStatus?, now: Date
    ) -> [PolicyCondition] {
        let base = restoring(condition.type, in: status.conditions ?? [], from: previous)
        return PolicyCondition.merge(base, with: [condition], now: now, observedGeneration: status.observedGeneration)
    }

    /// `conditions` with the condition of `type` as `previous` had it, at its place there (or without one, if it had
    /// none): what this round planned for that type did not happen.
    static func restoring(
        _ type: String, in conditions: [PolicyCondition], from previous: PolicyStatus?
    ) -> [PolicyCondition] {
        var result = conditions
        let earlier = previous?.conditions ?? []
        let before = earlier.firstIndex { $0.type == type }
        if let index = result.firstIndex(where: { $0.type == type }) {
            if let before { result[index] = earlier[before] } else { result.remove(at: index) }
        } else if let before {
            result.insert(earlier[before], at: min(before, result.count))
        }
        return result
    }

    /// A budget of the policy's name that it does not own: left alone, shown as a condition and announced once; the
    /// policy polls on.
    public static func budgetNotOwned(
        _ conflict: String, rest: ReconcilePlan, previous: PolicyStatus?, lastStatusWrite: Date, now: Date,
        valueRefresh: Double = valueRefreshInterval
    ) -> ReconcilePlan {
        var plan = rest
        var status = plan.status ?? previous ?? PolicyStatus()
        let before = previous?.conditions?.first { $0.is(.disruptionBudget) }
        if before?.reason != "NotOwned" || before?.message != conflict {
            plan.actions.insert(
                .recordEvent(PolicyEvent(.warning, PolicyEventReason.disruptionBudgetConflict, conflict)), at: 0)
        }
        status.conditions = replacing(
            in: status,
            with: PolicyCondition(type: .disruptionBudget, status: .false, reason: "NotOwned", message: conflict),
            previous: previous, now: now)
        plan.settle(status, previous: previous, lastStatusWrite: lastStatusWrite, now: now, valueRefresh: valueRefresh)
        return plan
    }

    /// `ScaledUp` → `WouldScaleUp`, and so on: what a shadow policy would have done.
    static func shadowEvent(_ event: PolicyEvent) -> PolicyEvent {
        let shadowed = PolicyEventReason(rawValue: event.reason).flatMap { PolicyEventReason.shadowed[$0] }
        return PolicyEvent(event.kind, shadowed?.rawValue ?? event.reason, event.message)
    }

    private static func budgetCondition(_ budget: ResolvedPolicy.DisruptionBudget, replicas: Int) -> PolicyCondition {
        let allowed = DisruptionBudgetManifest.allowedDisruptions(budget, replicas: replicas)
        if allowed > 0 {
            return PolicyCondition(
                type: .disruptionBudget, status: .true, reason: "DisruptionsAllowed",
                message: "\(allowed) of \(replicas) pods may be disrupted")
        }
        return PolicyCondition(
            type: .disruptionBudget, status: .false, reason: "NoDisruptionAllowed",
            message: "at \(replicas) replicas the budget allows no voluntary disruption: node drains will block")
    }

    /// `ScaledUp`, `ScaledDown`, `ScaledToZero` or `ActivatedFromZero`, saying what decided it.
    static func scaleEvent(_ decision: ScalingDecision, target: String) -> PolicyEvent {
        let from = decision.previousReplicas
        let to = decision.desiredReplicas
        var why: String
        if case .signal = decision.limitedBy {
            why = decision.message
        } else {
            why = "limited by \(decision.limitedBy)"
            // The signal that asked for the most, so the note says what the rule held back.
            let asked = decision.signals.compactMap { signal in signal.recommendation.map { (signal, $0) } }
            if let (strongest, recommendation) = asked.max(by: { $0.1 < $1.1 }), let value = strongest.value {
                let name = strongest.name ?? strongest.type
                why +=
                    "; \(name) \(String(format: "%.4g", value)) against target "
                    + "\(String(format: "%.4g", strongest.target)) asked for \(recommendation)"
            }
        }
        if to == 0 {
            return PolicyEvent(.normal, PolicyEventReason.scaledToZero, "\(target): \(from) -> 0 replicas, \(why)")
        }
        if from == 0 {
            return PolicyEvent(.normal, PolicyEventReason.activatedFromZero, "\(target): 0 -> \(to) replicas, \(why)")
        }
        return PolicyEvent(
            .normal, to > from ? PolicyEventReason.scaledUp : .scaledDown,
            "\(target): \(from) -> \(to) replicas, \(why)")
    }

    static func transitionEvents(from previous: PolicyStatus, to status: PolicyStatus) -> [PolicyEvent] {
        func condition(_ status: PolicyStatus, _ type: PolicyConditionType) -> PolicyCondition? {
            status.conditions?.first(type)
        }
        var events: [PolicyEvent] = []
        let wasFallback = condition(previous, .fallback)?.status == .true
        let isFallback = condition(status, .fallback)?.status == .true
        if isFallback, !wasFallback {
            events.append(
                PolicyEvent(.warning, PolicyEventReason.fallbackActivated, condition(status, .fallback)?.message ?? ""))
        } else if wasFallback, !isFallback {
            events.append(PolicyEvent(.normal, PolicyEventReason.fallbackDeactivated, "signals readable again"))
        }
        let capacity = condition(status, .capacityAvailable)
        if capacity?.status == .false, condition(previous, .capacityAvailable)?.status != .false {
            events.append(PolicyEvent(.warning, PolicyEventReason.capacityUnavailable, capacity?.message ?? ""))
        }
        let limit = condition(status, .scalingLimited)
        if limit?.reason == LimitReason.quota("").conditionReason, previous.limitedBy != status.limitedBy {
            events.append(PolicyEvent(.warning, PolicyEventReason.limitedByQuota, limit?.message ?? ""))
        }
        let metrics = condition(status, .metricsAvailable)
        if metrics?.status == .false, condition(previous, .metricsAvailable)?.status != .false {
            events.append(PolicyEvent(.warning, PolicyEventReason.metricsUnavailable, metrics?.message ?? ""))
        }
        return events
    }

    /// A write when something a user would act on changed: the counts, the limit, a condition's status or reason, a
    /// signal's presence, the decision's memory. Values (signal values and what follows from them: recommendations,
    /// read errors, the planner's figures, condition messages, the shadow's counters) at most every
    /// `valueRefreshInterval`.
    static func needsWrite(
        _ old: PolicyStatus, _ new: PolicyStatus, lastWrite: Date, now: Date,
        valueRefresh: Double = valueRefreshInterval
    ) -> Bool {
        func stripped(_ status: PolicyStatus) -> PolicyStatus {
            var copy = status
            copy.signals = status.signals?.map { signal in
                var signal = signal
                signal.value = nil
                signal.recommendation = nil
                // An error's text may carry timings; whether there is one is what counts.
                signal.error = signal.error.map { _ in "" }
                // The objective's per-replica target moves with the request mix.
                if signal.type == ScalingDecider.objectiveName { signal.target = 0 }
                return signal
            }
            copy.history = nil
            copy.objective = nil
            copy.shadow = nil
            copy.conditions = status.conditions?.map { condition in
                var condition = condition
                condition.message = ""
                return condition
            }
            return copy
        }
        if stripped(old) != stripped(new) { return true }
        if !(new.history ?? DecisionHistory()).materiallyEquals(old.history ?? DecisionHistory()) { return true }
        if (old.shadow == nil) != (new.shadow == nil) || old.shadow?.since != new.shadow?.since { return true }
        let valuesMoved =
            old.signals != new.signals || old.objective != new.objective || old.history?.planner != new.history?.planner
            || old.shadow != new.shadow || old.conditions != new.conditions
        return valuesMoved && now.timeIntervalSince(lastWrite) >= valueRefresh
    }
}

extension DecisionHistory {
    /// Equal for every future decision but the exact age of the newest recommendation of each value: in a steady
    /// state the history changes only its timestamps, which is no reason to write status.
    /// The recommendations count as the values they hold, not their order: a proposal that alternates between two
    /// counts reorders them every round without changing what a window can decide.
    func materiallyEquals(_ other: DecisionHistory) -> Bool {
        Set(recommendations.map(\.replicas)) == Set(other.recommendations.map(\.replicas))
            && scaleEvents == other.scaleEvents
            && consecutiveFailures == other.consecutiveFailures && idleSince == other.idleSince
            && learnedStartupSeconds == other.learnedStartupSeconds
    }
}
