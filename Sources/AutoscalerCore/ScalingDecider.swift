import Foundation
import KubernetesModel

/// The replica decision: a pure function of the policy, what was observed, the signal samples, the previous
/// history and `now`. No clock reads, no I/O; every rule is testable with tables of numbers.
public enum ScalingDecider {
    /// While pods are loading, a backlog signal may order more pods only if it asks for at least this multiple of
    /// the capacity already in flight: the backlog that piles up during a cold start is what the starting pods are
    /// for, but a demand this far beyond them is new load.
    public static let coldStartSurgeFactor = 2.0
    /// A not-ready pod older than this multiple of the expected cold start is stuck, not in flight.
    public static let stuckAfterStartupMultiple = 2.0
    /// Pod startups longer than this are not cold starts (a readiness flap long after creation) and are not learned.
    static let longestLearnedStartup = 6.0 * 3600
    /// Rounds without any readable signal are counted up to this many (or a fallback's `afterFailures`) and no more.
    public static let failureCountLimit = 10

    /// Decides the replica count for one round.
    ///
    /// 1. Each signal recommends a count (HPA's formula, tolerance band; latency only ever scales up, one policy
    ///    step at most). Missing, NaN, infinite and negative samples are reasons, not numbers.
    /// 2. The largest recommendation wins. With any signal missing the count may not go down; with none readable for
    ///    `fallback.afterFailures` rounds the fallback count applies (never below the current count).
    /// 3. Pods still loading are capacity in flight: backlog signals do not order them twice, and they block
    ///    scale-down.
    /// 4. Activation and idleness: at zero, only a signal above its activation brings the workload back (to at least
    ///    one replica, at once); idle for `scaleToZero.idleFor`, it goes to zero.
    /// 5. Stabilization: scale-up takes the lowest recommendation of its window, scale-down the highest of its.
    /// 6. Rate policies, counted from the replica count at the start of each period.
    /// 7. Bounds: `minReplicas` and open schedule windows raise the count, `maxReplicas` lowers it, at once; a
    ///    ResourceQuota without room stops growth (and lowers the count once the workload reports it exceeded).
    public static func decide(
        policy: ResolvedPolicy, observed: ObservedScale, samples: [SignalSample], history previous: DecisionHistory,
        workload: WorkloadSample? = nil, now: Date
    ) -> ScalingDecision {
        let current = max(0, observed.desiredReplicas)
        let ready = max(0, observed.readyReplicas)
        var history = previous
        let rules = policy.behavior

        history.learnedStartupSeconds = learnedStartup(from: observed.pods) ?? previous.learnedStartupSeconds
        let flight = capacityInFlight(policy: policy, observed: observed, history: history, now: now)

        // 1. Per-signal recommendations.
        let upStep = RateLimits.scaleUpLimit(
            current: current, events: history.scaleEvents, rules: rules.scaleUp, now: now)
        var readings: [Reading] = []
        let pairedWithBusy = policy.signals.contains { $0.type.measuresBusyness }
        for (index, signal) in policy.signals.enumerated() {
            let sample = index < samples.count ? samples[index] : .missing("no sample")
            readings.append(
                read(
                    signal, sample: sample, ready: ready, current: current, tolerance: rules.tolerance,
                    upStep: upStep, flight: flight, pairedWithBusy: pairedWithBusy,
                    lastScaleUp: history.scaleEvents.last { $0.change > 0 }.map { now.timeIntervalSince($0.time) }))
        }
        var planned: ObjectivePlanner.Plan?
        if let objective = policy.objective {
            let plan = ObjectivePlanner.plan(
                objective: objective, engine: policy.engine,
                sample: workload ?? .missing("no workload sample"), ready: ready, current: current,
                inFlightCapacity: flight.count > 0 ? flight.capacity : nil, upStep: upStep,
                startups: recentStartups(observed.pods), expectedStartup: policy.expectedStartup,
                pollingInterval: policy.pollingInterval, state: previous.planner, now: now)
            history.planner = plan.state
            var reading = Reading(
                signal: .init(type: .custom, target: plan.perReplica ?? 0, name: objectiveName), activated: false)
            reading.value = plan.forecast
            reading.error = plan.error
            reading.recommendation = plan.recommendation
            reading.capped = plan.recommendation
            reading.activated = (plan.forecast ?? 0) > 0
            readings.insert(reading, at: 0)
            planned = plan
        }
        let readable = readings.filter { $0.value != nil }
        let allMissing = readable.isEmpty
        let anyMissing = readable.count < readings.count
        // Counted up to what the fallback needs (at least `failureCountLimit`), then held: a count that grows every
        // round forever would make the history, and so status, change every round of a fleet without metrics.
        let failureLimit = max(policy.fallback?.afterFailures ?? 0, Self.failureCountLimit)
        history.consecutiveFailures = allMissing ? min(previous.consecutiveFailures + 1, failureLimit) : 0

        // 2. Combine; missing data holds.
        var proposed = current
        var reason = LimitReason.missingMetrics
        // A latency signal under its target abstains: it cannot say how few replicas would still keep it there.
        let voting = readable.filter { $0.capped != nil }
        if let best = voting.max(by: { ($0.capped ?? 0) < ($1.capped ?? 0) }) {
            // `max(by:)` returns the last of equal elements; prefer the first signal in spec order.
            let top = best.capped ?? 0
            let first = voting.first { $0.capped == top }!
            proposed = top
            reason = .signal(first.signal.name)
            let uncappedTop = voting.compactMap(\.recommendation).max() ?? top
            if uncappedTop > top { reason = .coldStart }
        } else if let first = readable.first {
            // Only abstentions: hold.
            reason = .signal(first.signal.name)
        }
        if anyMissing, proposed < current {
            proposed = current
            reason = .missingMetrics
        }

        if policy.paused {
            return finish(
                policy: policy, current: current, desired: current, reason: .paused, readings: readings,
                history: previous.with(failures: history.consecutiveFailures), fallbackActive: false,
                activated: readable.contains { $0.activated }, planned: planned, flight: flight,
                quota: observed.quota, now: now)
        }

        // 3. Pods in flight may not be removed.
        if flight.count > 0, proposed < current {
            proposed = current
            reason = .coldStart
        }

        // 4. Activation, idleness, scale to zero.
        let activated = readable.contains { $0.activated }
        let scheduleFloor = policy.activeScheduleFloor(at: now)
        let idle = !anyMissing && !activated && (scheduleFloor?.replicas ?? 0) == 0
        history.idleSince = idle ? (previous.idleSince ?? now) : nil
        let scalesToZero = policy.minReplicas == 0 && policy.scaleToZeroIdleFor != nil
        var goingToZero = false
        var activatingFromZero = false
        if scalesToZero, current == 0 {
            if activated {
                activatingFromZero = true
            } else {
                proposed = 0
                reason = .activation
            }
        } else if scalesToZero, idle, flight.count == 0, let since = history.idleSince,
            now.timeIntervalSince(since) >= policy.scaleToZeroIdleFor!
        {
            goingToZero = true
            proposed = 0
            reason = .scaleToZero
        }

        let fallbackActive =
            allMissing && policy.fallback.map { history.consecutiveFailures >= $0.afterFailures } ?? false
        var desired: Int
        if fallbackActive, let fallback = policy.fallback {
            // The fallback is a safe count to hold while blind: it raises, never lowers, and skips the windows.
            desired = max(current, fallback.replicas)
            reason = .fallback
            history.recommendations.append(.init(time: now, replicas: desired))
        } else {
            // 5. Stabilization windows over the recommendations, the new one included.
            var upBound = proposed
            var downBound = proposed
            let upCutoff = now.addingTimeInterval(-rules.scaleUp.stabilizationWindow)
            let downCutoff = now.addingTimeInterval(-rules.scaleDown.stabilizationWindow)
            for past in previous.recommendations {
                if past.time > upCutoff { upBound = min(upBound, past.replicas) }
                if past.time > downCutoff { downBound = max(downBound, past.replicas) }
            }
            // From zero the first replica is not held back; going to zero already waited `idleFor`.
            if activatingFromZero { upBound = proposed }
            if goingToZero { downBound = proposed }
            desired = current
            if desired < upBound { desired = upBound }
            if desired > downBound { desired = downBound }
            if desired != proposed {
                reason = proposed > current ? .scaleUpStabilization : .scaleDownStabilization
            }
            history.recommendations.append(.init(time: now, replicas: proposed))

            // 6. Rate policies.
            if desired > current {
                if desired > upStep {
                    desired = upStep
                    reason = .scaleUpRate
                }
            } else if desired < current {
                let limit = RateLimits.scaleDownLimit(
                    current: current, events: history.scaleEvents, rules: rules.scaleDown, now: now)
                if desired < limit {
                    desired = limit
                    reason = .scaleDownRate
                }
            }
            if activatingFromZero, desired < 1 {
                desired = 1
                reason = .activation
            }
        }

        // 7. Bounds, at once.
        let minimumFloor: Int
        if scalesToZero {
            minimumFloor = current == 0 ? (activated ? 1 : 0) : (goingToZero ? 0 : 1)
        } else {
            minimumFloor = policy.minReplicas
        }
        let scheduleReplicas = scheduleFloor?.replicas ?? 0
        let lower = max(minimumFloor, scheduleReplicas)
        if desired < lower {
            desired = lower
            if let scheduleFloor, scheduleFloor.replicas > minimumFloor {
                reason = .schedule(scheduleFloor.name)
            } else if scalesToZero {
                reason = current == 0 ? .activation : .idleFor
            } else {
                reason = .minReplicas
            }
        }
        if desired > policy.maxReplicas {
            desired = policy.maxReplicas
            reason = .maxReplicas
        }
        if fallbackActive { reason = .fallback }
        if let quota = observed.quota, desired > quota.bound(current: current) {
            desired = quota.bound(current: current)
            reason = .quota(quota.quota)
        }

        if desired != current { history.scaleEvents.append(.init(time: now, change: desired - current)) }
        history.prune(rules: rules, now: now)

        return finish(
            policy: policy, current: current, desired: desired, reason: reason, readings: readings,
            history: history, fallbackActive: fallbackActive, activated: activated, planned: planned, flight: flight,
            quota: observed.quota, now: now)
    }

    /// How status and `limitedBy` name the objective planner's recommendation.
    public static let objectiveName = "Objective"

    /// Cold starts of the ten pods that became Ready most recently, newest first, in seconds.
    static func recentStartups(_ pods: [ObservedPod]) -> [Double] {
        pods.compactMap { pod -> (Date, Double)? in
            guard pod.ready, let since = pod.readySince else { return nil }
            let seconds = since.timeIntervalSince(pod.createdAt)
            guard seconds > 0, seconds <= longestLearnedStartup else { return nil }
            return (since, seconds)
        }
        .sorted { $0.0 > $1.0 }
        .prefix(10)
        .map(\.1)
    }

    // MARK: - Signals

    struct Reading {
        var signal: ResolvedPolicy.Signal
        var value: Double?
        var error: String?
        /// The signal's own recommendation.
        var recommendation: Int?
        /// After the cold-start rule.
        var capped: Int?
        var activated: Bool
    }

    struct Flight {
        /// Pods starting (or about to be created) that will be ready within their expected cold start.
        var count: Int
        /// Ready replicas plus those in flight.
        var capacity: Int
        /// Pods waiting for a node, still within the lead time (part of `count`).
        var awaitingNode: Int = 0
        /// Pods unschedulable for longer than the lead time: no capacity, in flight or idle.
        var stranded: [ObservedPod] = []
        /// The lead time they were measured against, in seconds.
        var leadTime: Double = 0
    }

    private static func read(
        _ signal: ResolvedPolicy.Signal, sample: SignalSample, ready: Int, current: Int, tolerance: Double,
        upStep: Int, flight: Flight, pairedWithBusy: Bool, lastScaleUp: TimeInterval?
    ) -> Reading {
        var reading = Reading(signal: signal, activated: false)
        guard let value = sample.usable else {
            reading.error = sample.reason
            return reading
        }
        reading.value = value
        reading.activated = value > signal.activation
        guard
            let recommendation = recommendedReplicas(
                signal, value: value, ready: ready, current: current, tolerance: tolerance, upStep: upStep)
        else { return reading }
        if pairedWithBusy, signal.type == .queueDepth, recommendation < current {
            // Below its target a queue cannot tell a fleet that is just keeping up from an idle one (the sawtooth of
            // DESIGN §3): with a busy signal in the policy, that signal sizes the scale-down.
            return reading
        }
        reading.recommendation = recommendation
        reading.capped = recommendation
        if signal.type.isLatency, recommendation > current,
            flight.count > 0 || (lastScaleUp.map { $0 < (signal.window ?? PolicyDefaults.rateWindow) } ?? false)
        {
            // A latency quantile describes the fleet of its whole window: while pods are loading, or until a window
            // has passed since the last scale-up, it still measures the backlog the added capacity is absorbing.
            reading.capped = max(current, min(recommendation, flight.capacity))
        } else if flight.count > 0, signal.type.growsDuringColdStart, recommendation > flight.capacity,
            Double(recommendation) < coldStartSurgeFactor * Double(flight.capacity)
        {
            reading.capped = max(flight.capacity, min(recommendation, current))
        }
        return reading
    }

    /// HPA's replica formula for one signal; nil when a latency signal is within its target (it abstains, so that
    /// a fleet whose latency is fine can still shrink on its other signals).
    static func recommendedReplicas(
        _ signal: ResolvedPolicy.Signal, value: Double, ready: Int, current: Int, tolerance: Double, upStep: Int
    ) -> Int? {
        if signal.type.isLatency {
            let ratio = value / signal.target
            if ratio <= 1 + tolerance + bandSlack { return nil }
            let wanted = ceilReplicas(Double(max(ready, 1)) * ratio)
            return max(current, min(wanted, upStep))
        }
        // With no ready replica there is no per-replica average: the value can only be a total (a gateway queue).
        let total = signal.targetType == .averageValue && ready > 0 ? Double(ready) * value : value
        let exact = total / signal.target
        if ready > 0 {
            let ratio = exact / Double(ready)
            if abs(ratio - 1) <= tolerance + bandSlack {
                // "No change", kept between the counts the band's edges would give so that more load never
                // recommends fewer replicas.
                let low = ceilReplicas(Double(ready) * (1 - tolerance))
                let high = ceilReplicas(Double(ready) * (1 + tolerance))
                return min(max(current, low), high)
            }
        }
        return ceilReplicas(exact)
    }

    /// 5.5 / 5 is 1.1000000000000001: a value exactly on the band's edge is inside it.
    static let bandSlack = 1e-9

    /// `ceil`, forgiving floating-point noise (3 × 0.85 / 0.85 is 3, not 4) and saturating.
    static func ceilReplicas(_ value: Double) -> Int {
        saturatingInt((value - 1e-9).rounded(.up))
    }

    // MARK: - Cold start

    private static func capacityInFlight(
        policy: ResolvedPolicy, observed: ObservedScale, history: DecisionHistory, now: Date
    ) -> Flight {
        let current = max(0, observed.desiredReplicas)
        let ready = max(0, observed.readyReplicas)
        let expected = policy.expectedStartup ?? history.learnedStartupSeconds ?? PolicyDefaults.unlearnedStartup
        let patience = expected * stuckAfterStartupMultiple
        let notReady = observed.pods.filter { !$0.ready }
        // A pod waiting for a node counts while a node could still come within the lead time that was measured
        // (creation to Ready, node provisioning included; the p90, as the planner plans with it); past it, the
        // capacity is not coming, and it is reported instead.
        let leadTime = max(
            expected,
            ObjectivePlanner.leadTime(startups: recentStartups(observed.pods), expected: policy.expectedStartup))
        let waitingForNode = notReady.filter { $0.unschedulable != nil }
        let awaitingNode = waitingForNode.filter { now.timeIntervalSince($0.createdAt) <= leadTime }
        let stranded = waitingForNode.filter { now.timeIntervalSince($0.createdAt) > leadTime }
        let loading =
            notReady.filter { $0.unschedulable == nil && now.timeIntervalSince($0.createdAt) <= patience }.count
            + awaitingNode.count
        // Pods the workload controller has yet to create count as in flight only shortly after a scale-up.
        let uncreated = max(0, current - ready - notReady.count)
        let lastScaleUp = history.scaleEvents.last { $0.change > 0 }?.time
        let recentlyScaledUp = lastScaleUp.map { now.timeIntervalSince($0) <= patience } ?? false
        let count = max(0, min(current - ready, loading + (recentlyScaledUp ? uncreated : 0)))
        return Flight(
            count: count, capacity: ready + count, awaitingNode: awaitingNode.count, stranded: stranded,
            leadTime: leadTime)
    }

    /// The median cold start of the five pods that became Ready most recently, or nil when none is known.
    static func learnedStartup(from pods: [ObservedPod]) -> Double? {
        let recent = recentStartups(pods).prefix(5).sorted()
        guard !recent.isEmpty else { return nil }
        let middle = recent.count / 2
        return recent.count % 2 == 1 ? recent[middle] : (recent[middle - 1] + recent[middle]) / 2
    }

    // MARK: - Result

    private static func finish(
        policy: ResolvedPolicy, current: Int, desired: Int, reason: LimitReason, readings: [Reading],
        history: DecisionHistory, fallbackActive: Bool, activated: Bool, planned: ObjectivePlanner.Plan?,
        flight: Flight, quota: QuotaCap?, now: Date
    ) -> ScalingDecision {
        let statuses = readings.map { reading in
            SignalStatus(
                type: reading.signal.name == objectiveName ? objectiveName : reading.signal.type.rawValue,
                name: reading.signal.name == reading.signal.type.rawValue || reading.signal.name == objectiveName
                    ? nil : reading.signal.name,
                value: reading.value, target: reading.signal.target, recommendation: reading.capped,
                error: reading.error)
        }
        let missing = readings.filter { $0.value == nil }
        var conditions: [PolicyCondition] = []
        if missing.isEmpty {
            conditions.append(
                .init(
                    type: .metricsAvailable, status: .true, reason: "AllSignalsRead", message: "every signal was read")
            )
        } else if missing.count == readings.count {
            conditions.append(
                .init(
                    type: .metricsAvailable, status: .false, reason: "NoSignalsRead",
                    message: "no signal could be read: " + describe(missing)))
        } else {
            conditions.append(
                .init(
                    type: .metricsAvailable, status: .false, reason: "SomeSignalsMissing",
                    message: "holding at least the current count: " + describe(missing)))
        }
        if activated {
            let above = readings.filter(\.activated).map {
                "\($0.signal.name) \(format($0.value!)) > \(format($0.signal.activation))"
            }
            conditions.append(
                .init(type: .active, status: .true, reason: "AboveActivation", message: above.joined(separator: ", ")))
        } else if desired == 0 {
            conditions.append(
                .init(
                    type: .active, status: .false, reason: "ScaledToZero",
                    message: "no signal above its activation value"))
        } else {
            conditions.append(
                .init(
                    type: .active, status: .false, reason: "BelowActivation",
                    message: "no signal above its activation value"))
        }
        let limited = !reason.isSignal && reason != .paused
        var limitation = limited ? "the signals' count was overridden by \(reason)" : "the count follows the signals"
        if case .quota = reason, let quota { limitation += ": " + quota.detail }
        conditions.append(
            .init(
                type: .scalingLimited, status: limited ? .true : .false,
                reason: reason == .paused ? "Paused" : reason.conditionReason, message: limitation))
        conditions.append(capacityCondition(flight))
        if let planned { conditions.append(planned.condition) }
        if fallbackActive {
            conditions.append(
                .init(
                    type: .fallback, status: .true, reason: "FallbackActive",
                    message: "no signal readable for \(policy.fallback?.afterFailures ?? 0) rounds or more: holding "
                        + "\(desired) replicas"))
        } else {
            conditions.append(
                .init(type: .fallback, status: .false, reason: "SignalsReadable", message: "fallback not in effect"))
        }

        let message: String
        switch reason {
        case .signal(let name):
            let reading = readings.first { $0.signal.name == name }!
            message =
                "\(name) \(format(reading.value ?? 0)) against target \(format(reading.signal.target)): \(desired) replicas"
        default:
            message = "\(current) -> \(desired) replicas, limited by \(reason)"
        }
        return ScalingDecision(
            desiredReplicas: desired, previousReplicas: current, limitedBy: reason, message: message,
            signals: statuses, conditions: conditions, objective: planned?.status, history: history)
    }

    /// Whether the pods asked for found nodes: the ones stranded past the lead time are named with the scheduler's
    /// reason (a ResourceQuota stops pods before they exist; this is the cluster having no node for them).
    private static func capacityCondition(_ flight: Flight) -> PolicyCondition {
        guard flight.stranded.isEmpty else {
            // By name: the pods come from a cache in no particular order, and a message that reorders is a write.
            let pods = flight.stranded.sorted { $0.name < $1.name }.prefix(3).map {
                "\($0.name): \($0.unschedulable ?? "")"
            }
            let more = flight.stranded.count > 3 ? "; and \(flight.stranded.count - 3) more" : ""
            return PolicyCondition(
                type: .capacityAvailable, status: .false, reason: "CapacityUnavailable",
                message: "\(flight.stranded.count) pod(s) unschedulable for longer than the lead time "
                    + "(\(format(flight.leadTime.rounded())) s), counted neither in flight nor idle: "
                    + pods.joined(separator: "; ") + more)
        }
        if flight.awaitingNode > 0 {
            return PolicyCondition(
                type: .capacityAvailable, status: .true, reason: "AwaitingNodes",
                message: "\(flight.awaitingNode) pod(s) waiting for a node, counted in flight for up to the lead time "
                    + "(\(format(flight.leadTime.rounded())) s)")
        }
        return PolicyCondition(
            type: .capacityAvailable, status: .true, reason: "PodsScheduled",
            message: "no pod of the target is waiting for a node")
    }

    private static func describe(_ readings: [Reading]) -> String {
        readings.map { "\($0.signal.name): \($0.error ?? "missing")" }.joined(separator: "; ")
    }

    private static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return String(format: "%.4g", value)
    }
}

extension DecisionHistory {
    func with(failures: Int) -> DecisionHistory {
        var copy = self
        copy.consecutiveFailures = failures
        return copy
    }

    /// Drops what no future round can use, so the history stays small enough to live in status.
    mutating func prune(rules: ResolvedPolicy.Behavior, now: Date) {
        let window = max(rules.scaleUp.stabilizationWindow, rules.scaleDown.stabilizationWindow)
        let windowCutoff = now.addingTimeInterval(-window)
        // A recommendation matters while it could still be a window's maximum or minimum: once a newer one is at
        // least as high and a newer one at least as low, it never will be again.
        var kept: [Recommendation] = []
        var newerHigh = Int.min
        var newerLow = Int.max
        for entry in recommendations.reversed() where entry.time > windowCutoff {
            if entry.replicas > newerHigh || entry.replicas < newerLow { kept.append(entry) }
            newerHigh = max(newerHigh, entry.replicas)
            newerLow = min(newerLow, entry.replicas)
        }
        recommendations = kept.reversed()
        let period = (rules.scaleUp.policies + rules.scaleDown.policies).map(\.period).max() ?? 0
        let periodCutoff = now.addingTimeInterval(-period)
        scaleEvents.removeAll { $0.time <= periodCutoff }
        // A 1 s poll with a 30 min period could keep 1,800 events. Past the cap, the oldest event is folded into the
        // next one of the same direction at the later time: a period then counts it a little longer, which only
        // makes the rate limit stricter, never looser.
        while scaleEvents.count > Self.maxScaleEvents {
            guard
                let index = scaleEvents.indices.dropLast().first(where: { index in
                    scaleEvents[(index + 1)...].contains { ($0.change > 0) == (scaleEvents[index].change > 0) }
                })
            else { break }
            let next = scaleEvents[(index + 1)...].firstIndex { ($0.change > 0) == (scaleEvents[index].change > 0) }!
            scaleEvents[next].change += scaleEvents[index].change
            scaleEvents.remove(at: index)
        }
    }

    /// Keeps the history well inside the CRD's bound on status lists.
    static let maxScaleEvents = 256
}
