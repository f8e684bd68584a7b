import AutoscalerCore
import Foundation
import KubernetesClient
import KubernetesModel
import Logging
import Synchronization

/// `ClusterAPI` on the Kubernetes API: pods from a shared informer cache, writes through the client.
public final class LiveClusterAPI: ClusterAPI, Sendable {
    public static let fieldManager = "inference-autoscaler"
    /// Repeats of an event less than this many seconds apart raise its series count instead of creating another.
    static let eventAggregationWindow = 600.0
    /// A series' count reaches the API server at most this often (client-go's event recorder waits 30 minutes): a
    /// condition that repeats every poll costs a write every few minutes, not one each poll.
    static let eventSeriesRefresh = 300.0
    /// Series remembered at most: the oldest are forgotten first (they then start a new Event).
    static let eventSeriesLimit = 10_000

    private struct SeriesKey: Hashable {
        var policy: PolicyKey
        var reason: String
        var note: String
    }

    private struct Series {
        var name: String
        var count: Int
        var lastObserved: Date
        /// When the count was last sent to the API server.
        var lastSent: Date
    }

    private let client: KubernetesAPIClient
    private let podCaches: PodCaches
    private let instance: String
    private let logger: Logger
    private let gate: any WriteGate
    private let otherScalers: [String?: [Informer<DynamicObject>]]
    /// Deployments and StatefulSets by namespace scope (nil: all), then by resource name, to read `/scale` from.
    private let workloads: [String?: [String: Informer<DynamicObject>]]
    /// ResourceQuotas by namespace scope (nil: all).
    private let quotas: [String?: Informer<DynamicObject>]
    /// A namespace's policies that pass a filter (which sees each in the cache, so only matches are copied).
    private let policies: @Sendable (String, (InferenceAutoscalePolicy) -> Bool) -> [InferenceAutoscalePolicy]
    private let series = Mutex<[SeriesKey: Series]>([:])
    /// The budgets this replica applied, and when.
    private let appliedBudgets = Mutex<[String: (manifest: JSONValue, at: Date)]>([:])
    static let budgetResync = 600.0

    /// - Parameter podCaches: the pod informers, one per namespace that has policies.
    /// - Parameter gate: asked before every write (leader election); a write without it throws `NotLeaderError`.
    init(
        client: KubernetesAPIClient, podCaches: PodCaches, instance: String,
        gate: any WriteGate = AlwaysWrite(), otherScalers: [String?: [Informer<DynamicObject>]] = [:],
        workloads: [String?: [String: Informer<DynamicObject>]] = [:],
        quotas: [String?: Informer<DynamicObject>] = [:],
        policies: @escaping @Sendable (String, (InferenceAutoscalePolicy) -> Bool) -> [InferenceAutoscalePolicy] = {
            _, _ in []
        },
        logger: Logger = Logger(label: "inference-autoscaler.cluster")
    ) {
        self.client = client
        self.podCaches = podCaches
        self.instance = instance
        self.gate = gate
        self.otherScalers = otherScalers
        self.workloads = workloads
        self.quotas = quotas
        self.policies = policies
        self.logger = logger
    }

    /// On the controller's caches: pods, other autoscalers, workloads and policies.
    public convenience init(
        client: KubernetesAPIClient, caches: ControllerCaches, instance: String, gate: any WriteGate = AlwaysWrite(),
        logger: Logger = Logger(label: "inference-autoscaler.cluster")
    ) {
        self.init(
            client: client, podCaches: caches.pods, instance: instance, gate: gate, otherScalers: caches.otherScalers,
            workloads: caches.workloads, quotas: caches.quotas, policies: { caches.policies(in: $0, where: $1) },
            logger: logger)
    }

    /// HPAs and ScaledObjects from their caches (keyed by namespace; nil: all), and the policies of the namespace.
    public func conflict(for policy: InferenceAutoscalePolicy, target: ResolvedPolicy.Target) async -> String? {
        let namespace = policy.metadata.namespace ?? "default"
        let group = Self.group(of: target.apiVersion)
        for cache in otherScalers[namespace] ?? otherScalers[nil] ?? [] {
            for object in cache.list(
                namespace: namespace, where: { $0["spec", "scaleTargetRef", "name"] == .string(target.name) })
            {
                guard let reference = object["spec", "scaleTargetRef"], reference.objectMembers != nil else { continue }
                // A ScaledObject's kind and apiVersion default to apps/v1 Deployment.
                let kind = reference["kind"]?.stringValue ?? "Deployment"
                let apiVersion = reference["apiVersion"]?.stringValue ?? "apps/v1"
                guard reference["name"]?.stringValue == target.name, kind == target.kind,
                    Self.group(of: apiVersion) == group
                else { continue }
                let what = object.json["kind"]?.stringValue ?? "HorizontalPodAutoscaler"
                return "\(what) \(namespace)/\(object.metadata.name ?? "") also scales \(target.kind) \(target.name): "
                    + "remove it, or this policy"
            }
        }
        // Two policies: the older one keeps the workload (an invalid one scales nothing, so it claims nothing).
        let mine = (policy.metadata.creationTimestamp ?? "", policy.metadata.name ?? "")
        let sameTarget = policies(namespace) { other in
            guard other.metadata.name != policy.metadata.name, let reference = other.spec?.targetRef else {
                return false
            }
            return reference.name == target.name && reference.kind == target.kind
                && Self.group(of: reference.apiVersion ?? "apps/v1") == group
        }
        for other in sameTarget {
            // A shadow claims nothing.
            guard case .success(let resolved) = PolicyValidator.resolve(other), !resolved.shadow else { continue }
            let theirs = (other.metadata.creationTimestamp ?? "", other.metadata.name ?? "")
            if theirs < mine {
                return "InferenceAutoscalePolicy \(namespace)/\(other.metadata.name ?? "") already scales "
                    + "\(target.kind) \(target.name): delete one of the two policies"
            }
        }
        return nil
    }

    static func group(of apiVersion: String) -> String {
        apiVersion.contains("/") ? String(apiVersion.split(separator: "/")[0]) : ""
    }

    public func setDeletionCost(_ cost: Int, namespace: String, pod: String) async throws {
        try mayWrite()
        _ = try await client.patch(
            DynamicObject.self, .pods, namespace: namespace, name: pod,
            .merge(
                .object([
                    "metadata": .object([
                        "annotations": .object([PolicyReconciler.deletionCostAnnotation: .string(String(cost))])
                    ])
                ])))
    }

    private func mayWrite() throws {
        guard gate.mayWrite else { throw NotLeaderError() }
    }

    public func resolve(apiVersion: String, kind: String) async throws -> KubernetesAPIClient.DiscoveredResource {
        try await client.resolve(apiVersion: apiVersion, kind: kind)
    }

    /// Deployments and StatefulSets from the shared cache, as their `/scale` would answer (a steady state then costs
    /// no request); other kinds, and objects the cache does not hold yet, through `/scale`.
    public func scale(_ resource: APIResource, namespace: String, name: String) async throws -> Scale {
        if resource.group == "apps", let cache = (workloads[namespace] ?? workloads[nil])?[resource.name],
            cache.hasSynced,
            let object = cache.get(namespace: namespace, name: name)
        {
            return Self.scale(of: object)
        }
        return try await client.scale(resource, namespace: namespace, name: name)
    }

    /// The `autoscaling/v1` Scale of an apps/v1 workload: `spec.replicas` (1 when unset), `status.replicas`, and the
    /// selector in the string form the API server gives (requirements sorted by key).
    static func scale(of object: DynamicObject) -> Scale {
        let selector = LabelSelector(object: object["spec", "selector"]).text
        return Scale(
            apiVersion: "autoscaling/v1", kind: "Scale", metadata: object.metadata,
            spec: .init(replicas: object["spec", "replicas"]?.intValue ?? 1),
            status: .init(replicas: object["status", "replicas"]?.intValue ?? 0, selector: selector))
    }

    /// From the caches: a quota not listed yet is no cap (it only ever holds growth back), and a kind other than
    /// a Deployment or StatefulSet reports no failure.
    public func guardrails(_ resource: APIResource, namespace: String, name: String) async -> WorkloadGuardrails {
        var guardrails = WorkloadGuardrails()
        if let cache = quotas[namespace] ?? quotas[nil] {
            guardrails.quotas = cache.list(namespace: namespace) { _ in true }.map(CachedFields.quotaUsage)
        }
        if resource.group == "apps", let cache = (workloads[namespace] ?? workloads[nil])?[resource.name],
            let object = cache.get(namespace: namespace, name: name)
        {
            guardrails.gpusPerReplica = object["gpus"]?.intValue
            guardrails.replicaFailure = object["status", "replicaFailure"]?.stringValue
        }
        return guardrails
    }

    public func setScale(_ resource: APIResource, namespace: String, name: String, replicas: Int) async throws {
        try mayWrite()
        _ = try await client.setScale(resource, namespace: namespace, name: name, replicas: replicas)
    }

    public func pods(namespace: String, selector: LabelSelector) async throws -> [PodInfo] {
        return try await podCaches.pods(in: namespace) { selector.matches($0.metadata.labels ?? [:]) }
            .compactMap(Self.podInfo)
    }

    static func podInfo(_ pod: DynamicObject) -> PodInfo? {
        guard let name = pod.metadata.name else { return nil }
        let created = pod.metadata.creationTimestamp.flatMap(Timestamp.parse) ?? .distantPast
        var ready = false
        var readySince: Date?
        var unschedulable: String?
        for condition in pod["status", "conditions"]?.arrayValue ?? [] {
            if condition["type"] == .string("Ready") {
                ready = condition["status"] == .string("True")
                if ready, case .string(let time)? = condition["lastTransitionTime"] {
                    readySince = Timestamp.parse(time)
                }
            } else if condition["type"] == .string("PodScheduled"), condition["status"] == .string("False"),
                condition["reason"] == .string("Unschedulable")
            {
                unschedulable = condition["message"]?.stringValue ?? "Unschedulable"
            }
        }
        return PodInfo(
            name: name, labels: pod.metadata.labels ?? [:], createdAt: created, ready: ready, readySince: readySince,
            terminating: pod.metadata.additionalFields["deletionTimestamp"] != nil,
            gpus: pod["gpus"]?.intValue ?? CachedFields.gpus(pod) ?? 0, unschedulable: unschedulable)
    }

    public func updateStatus(of policy: InferenceAutoscalePolicy, status: PolicyStatus) async throws {
        try mayWrite()
        var updated = policy
        updated.status = status
        _ = try await client.updateStatus(
            updated, .inferenceAutoscalePolicies, namespace: policy.metadata.namespace, name: policy.metadata.name ?? ""
        )
    }

    /// Server-side apply, skipped when this replica applied the same manifest less than `budgetResync` ago: a steady
    /// state writes nothing, and a budget changed or deleted by hand is restored within the resync period. Before
    /// each apply the budget is read: a forced apply would take over a budget of the same name that the user made.
    public func applyDisruptionBudget(_ budget: JSONValue, namespace: String, name: String) async throws {
        try mayWrite()
        let key = "\(namespace)/\(name)"
        let now = Date()
        let fresh = appliedBudgets.withLock { applied in
            applied[key].map { $0.manifest == budget && now.timeIntervalSince($0.at) < Self.budgetResync } ?? false
        }
        if fresh { return }
        let owner = budget["metadata"]?["ownerReferences"]?.arrayValue?.first?["uid"]?.stringValue
        if try await !budgetIsOurs(namespace: namespace, name: name, owner: owner) {
            throw DisruptionBudgetConflict(namespace: namespace, name: name)
        }
        _ = try await client.patch(
            DynamicObject.self, .podDisruptionBudgets, namespace: namespace, name: name,
            .apply(budget, fieldManager: Self.fieldManager, force: true))
        appliedBudgets.withLock { $0[key] = (budget, now) }
    }

    public func deleteDisruptionBudget(namespace: String, name: String, owner: String?) async throws {
        try mayWrite()
        _ = appliedBudgets.withLock { $0.removeValue(forKey: "\(namespace)/\(name)") }
        do {
            guard try await budgetIsOurs(namespace: namespace, name: name, owner: owner) else { return }
            try await client.delete(.podDisruptionBudgets, namespace: namespace, name: name)
        } catch let error as KubernetesError where error.isNotFound {
            return
        }
    }

    /// True when no such budget exists, or it has a controller owner reference to the policy (by uid when known).
    private func budgetIsOurs(namespace: String, name: String, owner: String?) async throws -> Bool {
        let existing: DynamicObject
        do {
            existing = try await client.get(DynamicObject.self, .podDisruptionBudgets, namespace: namespace, name: name)
        } catch let error as KubernetesError where error.isNotFound {
            return true
        }
        let references = existing["metadata", "ownerReferences"]?.arrayValue ?? []
        return references.contains { reference in
            reference["kind"]?.stringValue == InferenceAutoscalePolicy.kind
                && reference["name"]?.stringValue == name
                && (owner == nil || reference["uid"]?.stringValue == owner)
        }
    }

    /// An `events.k8s.io/v1` Event regarding the policy; repeats within ten minutes raise the series count.
    public func record(_ event: PolicyEvent, for policy: InferenceAutoscalePolicy) async {
        guard gate.mayWrite else { return }
        let namespace = policy.metadata.namespace ?? "default"
        let policyName = policy.metadata.name ?? ""
        let now = Date()
        let key = SeriesKey(policy: PolicyKey(policy), reason: event.reason, note: event.message)
        enum Repeat { case new, counted, send(Series) }
        let repeated = series.withLock { all -> Repeat in
            guard var entry = all[key], now.timeIntervalSince(entry.lastObserved) < Self.eventAggregationWindow else {
                return .new
            }
            entry.count += 1
            entry.lastObserved = now
            guard now.timeIntervalSince(entry.lastSent) >= Self.eventSeriesRefresh else {
                all[key] = entry
                return .counted
            }
            entry.lastSent = now
            all[key] = entry
            return .send(entry)
        }
        do {
            switch repeated {
            case .counted:
                return
            case .send(let existing):
                do {
                    _ = try await client.patch(
                        DynamicObject.self, .events, namespace: namespace, name: existing.name,
                        .merge(
                            .object([
                                "series": .object([
                                    "count": .number(Double(existing.count)),
                                    "lastObservedTime": .string(Self.microTime(now)),
                                ])
                            ])))
                    return
                } catch let error as KubernetesError where error.isNotFound {
                    // The Event is gone (its TTL, a manual delete): the repeat starts a new one.
                    _ = series.withLock { $0.removeValue(forKey: key) }
                }
            case .new:
                break
            }
            let name = "\(policyName).\(String(UInt64(now.timeIntervalSince1970 * 1e6), radix: 16))"
            var regarding: [String: JSONValue] = [
                "apiVersion": .string(InferenceAutoscalePolicy.apiVersion),
                "kind": .string(InferenceAutoscalePolicy.kind),
                "name": .string(policyName), "namespace": .string(namespace),
            ]
            if let uid = policy.metadata.uid { regarding["uid"] = .string(uid) }
            let object: JSONValue = .object([
                "apiVersion": .string("events.k8s.io/v1"), "kind": .string("Event"),
                "metadata": .object(["name": .string(name), "namespace": .string(namespace)]),
                "eventTime": .string(Self.microTime(now)),
                "reportingController": .string("inference-autoscaler.dev/controller"),
                "reportingInstance": .string(instance), "action": .string("Reconcile"), "reason": .string(event.reason),
                "note": .string(String(event.message.prefix(1024))), "type": .string(event.kind.rawValue),
                "regarding": .object(regarding),
            ])
            _ = try await client.create(try DynamicObject(object), .events, namespace: namespace)
            series.withLock { all in
                all[key] = Series(name: name, count: 1, lastObserved: now, lastSent: now)
                Self.prune(&all, now: now)
            }
        } catch {
            // Events are best effort: a failure to record one must not fail the reconcile.
            logger.info("cannot record an event", metadata: ["event.reason": "\(event.reason)", "error": "\(error)"])
        }
    }

    /// Forgets the series that ended (no repeat within the window) and, past `eventSeriesLimit`, the oldest: the
    /// memory stays bounded however many policies and messages come and go.
    private static func prune(_ all: inout [SeriesKey: Series], now: Date) {
        guard all.count > eventSeriesLimit / 2 else { return }
        all = all.filter { now.timeIntervalSince($0.value.lastObserved) < eventAggregationWindow }
        guard all.count > eventSeriesLimit else { return }
        let oldest = all.sorted { $0.value.lastObserved < $1.value.lastObserved }.prefix(all.count - eventSeriesLimit)
        for (key, _) in oldest { all[key] = nil }
    }

    public func forget(_ policy: PolicyKey) {
        series.withLock { all in all = all.filter { $0.key.policy != policy } }
        _ = appliedBudgets.withLock { $0.removeValue(forKey: policy.description) }
    }

    /// `metav1.MicroTime`: RFC 3339 with microseconds.
    static func microTime(_ date: Date) -> String {
        let seconds = floor(date.timeIntervalSince1970)
        let micros = min(Int((date.timeIntervalSince1970 - seconds) * 1e6), 999_999)
        return Timestamp.format(
            millis: Int64(seconds) * 1000 + Int64(micros / 1000), fractionDigits: 6, micros: micros % 1000)
    }
}
