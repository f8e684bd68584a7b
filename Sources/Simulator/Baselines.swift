import Foundation

/// The Kubernetes HPA's normalization (`horizontal.go`): stabilization over past recommendations, then the rate
/// policies counted over scale events, then min/max. Written from the controller's documented algorithm.
public struct HPABehavior: Sendable {
    public struct Policy: Sendable {
        public enum Kind: Sendable { case pods, percent }
        public var kind: Kind
        public var value: Int
        public var period: Double

        public init(_ kind: Kind, _ value: Int, per period: Double) {
            self.kind = kind
            self.value = value
            self.period = period
        }
    }

    public struct Rules: Sendable {
        public var window: Double
        public var policies: [Policy]
        /// `selectPolicy: Max` (the policy that allows the largest change) or `Min`.
        public var selectMax: Bool

        public init(window: Double, policies: [Policy], selectMax: Bool = true) {
            self.window = window
            self.policies = policies
            self.selectMax = selectMax
        }
    }

    public var scaleUp: Rules
    public var scaleDown: Rules

    public init(scaleUp: Rules, scaleDown: Rules) {
        self.scaleUp = scaleUp
        self.scaleDown = scaleDown
    }

    /// autoscaling/v2 defaults: up at once by max(4 pods, 100 %) per 15 s; down after 300 s by up to 100 % per 15 s.
    public static let kubernetesDefault = HPABehavior(
        scaleUp: .init(window: 0, policies: [.init(.pods, 4, per: 15), .init(.percent, 100, per: 15)]),
        scaleDown: .init(window: 300, policies: [.init(.percent, 100, per: 15)]))
}

/// What the HPA controller remembers between syncs for one target.
struct HPAState {
    var recommendations: [(time: Double, replicas: Int)] = []
    var upEvents: [(time: Double, change: Int)] = []
    var downEvents: [(time: Double, change: Int)] = []

    /// `normalizeDesiredReplicasWithBehaviors`: returns the count to set and what limited it.
    mutating func normalize(
        proposed: Int, current: Int, behavior: HPABehavior, minReplicas: Int, maxReplicas: Int, now: Double
    ) -> (Int, String) {
        // stabilizeRecommendationWithBehaviors: up takes the min over its window, down the max over its window.
        var up = proposed
        var down = proposed
        for past in recommendations {
            if past.time > now - behavior.scaleUp.window { up = min(up, past.replicas) }
            if past.time > now - behavior.scaleDown.window { down = max(down, past.replicas) }
        }
        let longest = max(behavior.scaleUp.window, behavior.scaleDown.window)
        recommendations.removeAll { $0.time <= now - longest }
        recommendations.append((now, proposed))
        var desired = current
        var reason = "proposed"
        if desired < up { desired = up }
        if desired > down { desired = down }
        if desired != proposed { reason = "stabilized" }

        // convertDesiredReplicasWithBehaviorRate.
        if desired > current {
            let limit = max(current, limitUp(current: current, rules: behavior.scaleUp, now: now))
            if desired > limit {
                desired = limit
                reason = "scale-up limit"
            }
        } else if desired < current {
            let limit = min(current, limitDown(current: current, rules: behavior.scaleDown, now: now))
            if desired < limit {
                desired = limit
                reason = "scale-down limit"
            }
        }
        if desired > maxReplicas {
            desired = maxReplicas
            reason = "max"
        }
        if desired < minReplicas {
            desired = minReplicas
            reason = "min"
        }
        if desired > current { upEvents.append((now, desired - current)) }
        if desired < current { downEvents.append((now, current - desired)) }
        let period = 1800.0
        upEvents.removeAll { $0.time <= now - period }
        downEvents.removeAll { $0.time <= now - period }
        return (desired, reason)
    }

    /// `getReplicasChangePerPeriod`: changes within the last `period`.
    func changes(_ events: [(time: Double, change: Int)], period: Double, now: Double) -> Int {
        events.filter { $0.time + period > now }.reduce(0) { $0 + $1.change }
    }

    /// `calculateScaleUpLimitWithScalingRules`, counted from the replicas at the start of each period.
    func limitUp(current: Int, rules: HPABehavior.Rules, now: Double) -> Int {
        let proposals = rules.policies.map { policy -> Int in
            let start =
                current - changes(upEvents, period: policy.period, now: now)
                + changes(downEvents, period: policy.period, now: now)
            switch policy.kind {
            case .pods: return start + policy.value
            case .percent: return Int((Double(start) * (1 + Double(policy.value) / 100)).rounded(.up))
            }
        }
        return (rules.selectMax ? proposals.max() : proposals.min()) ?? current
    }

    /// `calculateScaleDownLimitWithBehaviors`: `Max` picks the policy allowing the largest decrease.
    func limitDown(current: Int, rules: HPABehavior.Rules, now: Double) -> Int {
        let proposals = rules.policies.map { policy -> Int in
            let start =
                current - changes(upEvents, period: policy.period, now: now)
                + changes(downEvents, period: policy.period, now: now)
            switch policy.kind {
            case .pods: return start - policy.value
            case .percent: return Int(Double(start) * (1 - Double(policy.value) / 100))
            }
        }
        return (rules.selectMax ? proposals.min() : proposals.max()) ?? current
    }
}

/// HPA v2 on a Pods metric: waiting requests per pod, average value `target`, synced every 15 s.
///
/// As `replica_calculator.go`'s `calcPlainMetricReplicas`: the average is over pods that report (a loading vLLM pod
/// reports nothing and is a missing pod); within the tolerance nothing changes; missing pods count as 0 when scaling
/// up and as the target when scaling down, and a direction that flips or ends in the band after that keeps the count.
/// With no metric at all the HPA does not scale.
public struct HPAScaler: FleetScaler {
    public let minReplicas: Int
    public let maxReplicas: Int
    public let target: Double
    public let tolerance: Double
    public let behavior: HPABehavior
    public let initialReplicas: Int
    public var name: String { "hpa" }
    public var syncPeriod: Double { 15 }
    var state = HPAState()

    public init(
        minReplicas: Int, maxReplicas: Int, targetWaitingPerPod: Double = 5, initialReplicas: Int,
        behavior: HPABehavior = .kubernetesDefault, tolerance: Double = 0.1
    ) {
        self.minReplicas = max(1, minReplicas)
        self.maxReplicas = maxReplicas
        self.target = targetWaitingPerPod
        self.tolerance = tolerance
        self.behavior = behavior
        self.initialReplicas = initialReplicas
    }

    public mutating func sync(_ observation: FleetObservation) -> (replicas: Int, reason: String) {
        let current = observation.desiredReplicas
        guard let sample = observation.metrics.latest, sample.readyPods > 0 else {
            return (current, "hpa: metric unavailable")
        }
        let reporting = Double(sample.readyPods)
        let missing = Double(max(0, observation.pods.count - sample.readyPods))
        let ratio = sample.waiting / reporting / target
        let proposed = Self.replicas(
            ratio: ratio, reporting: reporting, missing: missing, total: sample.waiting, target: target,
            current: current, tolerance: tolerance)
        let (desired, limit) = state.normalize(
            proposed: proposed, current: current, behavior: behavior, minReplicas: minReplicas,
            maxReplicas: maxReplicas, now: observation.time)
        return (desired, String(format: "hpa: waiting %.1f/pod vs %g, %@", sample.waiting / reporting, target, limit))
    }

    /// `calcPlainMetricReplicas`.
    static func replicas(
        ratio: Double, reporting: Double, missing: Double, total: Double, target: Double, current: Int,
        tolerance: Double
    ) -> Int {
        if missing == 0 {
            if abs(1 - ratio) <= tolerance { return current }
            return Int((ratio * reporting - 1e-9).rounded(.up))
        }
        // Missing pods: 0 when scaling up, the target when scaling down.
        let assumed = ratio < 1 ? missing * target : 0
        let newRatio = (total + assumed) / ((reporting + missing) * target)
        if abs(1 - newRatio) <= tolerance || (ratio < 1) != (newRatio < 1) { return current }
        let replicas = Int((newRatio * (reporting + missing) - 1e-9).rounded(.up))
        if (newRatio < 1 && replicas > current) || (newRatio > 1 && replicas < current) { return current }
        return replicas
    }
}

/// "keda-seed": the ScaledObject copied from blog posts. A Prometheus trigger `sum(vllm:num_requests_waiting)`
/// with `metricType: AverageValue`, threshold 5, polling 15 s, cooldown 300 s, minReplicaCount 2, and
/// `advanced.horizontalPodAutoscalerConfig.behavior` scale-up 2 pods / 30 s, scale-down window 600 s and 1 pod / 120 s.
///
/// KEDA hands the HPA an External metric: `GetExternalPerPodMetricReplicas` divides the total by the threshold and
/// compares it with `status.replicas` (every pod, loading or not) — so a backlog that loading pods will absorb still
/// orders more. `ignoreNullValues` defaults to true: when Prometheus has no data KEDA reports 0. The cooldown only
/// applies to scaling to zero, which minReplicaCount 2 rules out.
public struct KEDAScaler: FleetScaler {
    public let maxReplicas: Int
    public let minReplicas = 2
    public let threshold: Double
    public let initialReplicas: Int
    public var name: String { threshold == 5 ? "keda-seed" : "keda(threshold \(Self.format(threshold)))" }
    public var syncPeriod: Double { 15 }
    var state = HPAState()

    public static let behavior = HPABehavior(
        scaleUp: .init(window: 0, policies: [.init(.pods, 2, per: 30)]),
        scaleDown: .init(window: 600, policies: [.init(.pods, 1, per: 120)]))

    /// - Parameter threshold: waiting requests per replica (the seed configuration's 5, or a tuned value).
    public init(maxReplicas: Int, initialReplicas: Int = 2, threshold: Double = 5) {
        self.maxReplicas = maxReplicas
        self.initialReplicas = max(2, initialReplicas)
        self.threshold = threshold
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    public mutating func sync(_ observation: FleetObservation) -> (replicas: Int, reason: String) {
        let current = observation.desiredReplicas
        // ignoreNullValues: no data is 0.
        let total = observation.metrics.latest.flatMap { $0.readyPods > 0 ? $0.waiting : nil } ?? 0
        let statusReplicas = max(1, observation.pods.count)
        let ratio = total / (threshold * Double(statusReplicas))
        var proposed = current
        if abs(1 - ratio) > 0.1 { proposed = Int((total / threshold - 1e-9).rounded(.up)) }
        let (desired, limit) = state.normalize(
            proposed: proposed, current: current, behavior: Self.behavior, minReplicas: minReplicas,
            maxReplicas: maxReplicas, now: observation.time)
        return (desired, String(format: "keda: waiting %.0f in all vs %g/pod, %@", total, threshold, limit))
    }
}

/// Knative Serving's KPA on concurrency (`pkg/autoscaler/scaling/autoscaler.go`), fed per-second stats of requests
/// in flight at ready pods (waiting plus running, as the queue-proxy counts them with `containerConcurrency: 0`).
/// Every 2 s: the stable (60 s) and panic (6 s) window averages give `ceil(average / target)`, each kept between
/// `ready / maxScaleDownRate` and `ready × maxScaleUpRate`; panic starts when the panic count reaches 200 % of the
/// ready pods, lasts until a stable window passes without that, and never lowers the count while it lasts. The
/// target is the per-pod concurrency target × target utilization 70 %, with the target set to vLLM's
/// `max_num_seqs` (the seed configuration's choice).
public struct KPAScaler: FleetScaler {
    public let minReplicas: Int
    public let maxReplicas: Int
    public let target: Double
    public let stableWindow = 60.0
    public let panicWindow = 6.0
    public let panicThreshold = 2.0
    public let maxScaleUpRate = 1000.0
    public let maxScaleDownRate = 2.0
    public let initialReplicas: Int
    /// Target utilization of `max_num_seqs` per pod (the seed configuration's 0.7, or a tuned value).
    public let utilization: Double
    public var name: String {
        utilization == 0.7 ? "kpa" : "kpa(target \(Int((utilization * 100).rounded())) % of max_num_seqs)"
    }
    public var syncPeriod: Double { 2 }
    public var sampleInterval: Double? { 1 }
    var samples: [(time: Double, concurrency: Double)] = []
    var panicSince: Double?
    var maxPanicPods = 0

    public init(
        minReplicas: Int, maxReplicas: Int, profile: PodProfile, initialReplicas: Int, utilization: Double = 0.7
    ) {
        self.minReplicas = max(1, minReplicas)
        self.maxReplicas = maxReplicas
        self.utilization = utilization
        self.target = utilization * Double(profile.maxNumSeqs)
        self.initialReplicas = initialReplicas
    }

    public mutating func sample(_ gauges: FleetGauges) {
        samples.append((gauges.time, gauges.readyPods > 0 ? gauges.concurrency : 0))
        if samples.count > 256 { samples.removeFirst(samples.count - Int(stableWindow) - 8) }
    }

    func average(over window: Double, now: Double) -> Double? {
        let inside = samples.filter { $0.time > now - window }
        guard !inside.isEmpty else { return nil }
        return inside.reduce(0) { $0 + $1.concurrency } / Double(inside.count)
    }

    public mutating func sync(_ observation: FleetObservation) -> (replicas: Int, reason: String) {
        let now = observation.time
        guard let stable = average(over: stableWindow, now: now), let panic = average(over: panicWindow, now: now)
        else { return (observation.desiredReplicas, "kpa: no stats yet") }
        let ready = Double(max(1, observation.readyReplicas))
        let upperBound = (ready * maxScaleUpRate).rounded(.up)
        let lowerBound = (ready / maxScaleDownRate).rounded(.down)
        let desiredStable = min(max((stable / target).rounded(.up), lowerBound), upperBound)
        let desiredPanic = min(max((panic / target).rounded(.up), lowerBound), upperBound)
        let overThreshold = (panic / target).rounded(.up) / ready >= panicThreshold
        if overThreshold {
            panicSince = now
        } else if let since = panicSince, now - since >= stableWindow {
            panicSince = nil
            maxPanicPods = 0
        }
        var desired: Int
        var reason: String
        if panicSince != nil {
            desired = max(Int(desiredPanic), maxPanicPods)
            maxPanicPods = desired
            reason = String(format: "kpa: panic, %.0f in flight (6 s) vs %.0f/pod", panic, target)
        } else {
            desired = Int(desiredStable)
            reason = String(format: "kpa: stable, %.0f in flight (60 s) vs %.0f/pod", stable, target)
        }
        desired = min(maxReplicas, max(minReplicas, desired))
        return (desired, reason)
    }
}
