import AutoscalerCore
import Foundation
import KubernetesClient
import KubernetesModel
import Logging
import Synchronization

/// The controller: caches of policies and pods (list + watch), a work queue, and workers that reconcile.
public final class ControllerService: Sendable {
    public struct Configuration: Sendable {
        /// Namespaces to watch; empty for all.
        public var namespaces: [String]
        public var maxConcurrentReconciles: Int
        /// Namespaces whose policies may run `Custom` queries; `*` for all.
        public var customQueryNamespaces: Set<String>

        public init(namespaces: [String] = [], maxConcurrentReconciles: Int = 4, customQueryNamespaces: Set<String> = ["*"]) {
            self.namespaces = namespaces
            self.maxConcurrentReconciles = maxConcurrentReconciles
            self.customQueryNamespaces = customQueryNamespaces
        }
    }

    public let configuration: Configuration
    public let queue = WorkQueue()
    private let policyCaches: [Informer<InferenceAutoscalePolicy>]
    private let podCaches: [String?: Informer<DynamicObject>]
    private let reconciler: PolicyReconciler
    private let logger: Logger
    private let reconciles = Mutex<[String: Int]>([:])
    private let leadership: LeaderElector?
    private let hpaCaches: [Informer<DynamicObject>]
    private let workloadCaches: [Informer<DynamicObject>]
    private let scaledObjectCaches: [Informer<DynamicObject>]
    private let client: KubernetesAPIClient
    public let metrics: ControllerMetrics?

    /// - Parameter leadership: with leader election, workers start only once this replica leads, and every write
    ///   asks the elector first.
    public init(
        client: KubernetesAPIClient, signals: any SignalSource, configuration: Configuration,
        instance: String = ProcessInfo.processInfo.hostName, leadership: LeaderElector? = nil,
        metrics: ControllerMetrics? = nil, logger: Logger = Logger(label: "inference-autoscaler.controller")
    ) {
        self.leadership = leadership
        self.metrics = metrics
        self.client = client
        self.configuration = configuration
        self.logger = logger
        let scopes: [String?] = configuration.namespaces.isEmpty ? [nil] : configuration.namespaces
        policyCaches = scopes.map { Informer(client: client, resource: .inferenceAutoscalePolicies, namespace: $0, logger: logger) }
        var pods: [String?: Informer<DynamicObject>] = [:]
        for scope in scopes { pods[scope] = Informer(client: client, resource: .pods, namespace: scope, logger: logger) }
        podCaches = pods
        // Other autoscalers of the same workloads: HPAs always, KEDA's ScaledObjects where KEDA is installed.
        var others: [String?: [Informer<DynamicObject>]] = [:]
        var hpas: [Informer<DynamicObject>] = []
        var scaledObjects: [Informer<DynamicObject>] = []
        for scope in scopes {
            let hpa = Informer<DynamicObject>(client: client, resource: .horizontalPodAutoscalers, namespace: scope, logger: logger)
            let keda = Informer<DynamicObject>(client: client, resource: Self.scaledObjects, namespace: scope, logger: logger)
            hpas.append(hpa)
            scaledObjects.append(keda)
            others[scope] = [hpa, keda]
        }
        hpaCaches = hpas
        scaledObjectCaches = scaledObjects
        // The targets' replica counts and selectors, so that a steady state reads no /scale.
        var workloads: [String?: [String: Informer<DynamicObject>]] = [:]
        for scope in scopes {
            for resource in [APIResource.deployments, .statefulSets] {
                workloads[scope, default: [:]][resource.name] = Informer<DynamicObject>(
                    client: client, resource: resource, namespace: scope, logger: logger)
            }
        }
        workloadCaches = workloads.values.flatMap(\.values)
        let policyCaches = self.policyCaches
        let cluster = LiveClusterAPI(
            client: client, podCaches: pods, instance: instance, gate: leadership ?? AlwaysWrite(), otherScalers: others,
            workloads: workloads,
            policies: { namespace in
                policyCaches.flatMap { $0.list(namespace: namespace) }
            }, logger: logger)
        reconciler = PolicyReconciler(
            cluster: cluster, signals: signals, metrics: metrics,
            customQueryNamespaces: configuration.customQueryNamespaces, logger: logger)
    }

    static let scaledObjects = APIResource(group: "keda.sh", version: "v1alpha1", name: "scaledobjects", kind: "ScaledObject")

    /// True once every cache has its first list (for `/readyz`).
    public var hasSynced: Bool {
        policyCaches.allSatisfy(\.hasSynced) && podCaches.values.allSatisfy(\.hasSynced)
            && hpaCaches.allSatisfy(\.hasSynced)
    }

    /// Runs until cancelled, or until `stopTakingWork()` let the workers finish what they hold.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for cache in podCaches.values { group.addTask { try await cache.run() } }
            for cache in hpaCaches { group.addTask { try await cache.run() } }
            for cache in workloadCaches { group.addTask { try await cache.run() } }
            // KEDA's CRD may be absent: its cache runs only where the API serves ScaledObjects.
            if (try? await client.resolve(apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject")) != nil {
                for cache in scaledObjectCaches { group.addTask { try await cache.run() } }
            }
            for cache in policyCaches {
                group.addTask { try await cache.run() }
                group.addTask { await self.enqueueChanges(from: cache) }
            }
            group.addTask { await self.queue.runTimers() }
            group.addTask {
                for cache in self.podCaches.values { await cache.waitForSync() }
                for cache in self.hpaCaches { await cache.waitForSync() }
                // A standby keeps its caches warm (ready to take over) but reconciles nothing.
                await self.leadership?.waitUntilLeading()
                await withTaskGroup(of: Void.self) { workers in
                    for _ in 0..<max(1, self.configuration.maxConcurrentReconciles) {
                        workers.addTask { await self.work() }
                    }
                }
            }
            defer { group.cancelAll() }
            do {
                // The first task to end is the workers' (after `stopTakingWork`) or a failure.
                try await group.next()
            } catch {
                await queue.shutDown()
                throw error
            }
        }
    }

    /// Graceful shutdown: no new reconcile starts; those in flight finish, then `run()` returns.
    public func stopTakingWork() async {
        await queue.shutDown()
    }

    /// Every add or spec change is reconciled at once; status-only updates (our own writes) are not.
    private func enqueueChanges(from cache: Informer<InferenceAutoscalePolicy>) async {
        var generations: [String: Int] = [:]
        for await event in cache.events {
            switch event {
            case .added(let policy), .modified(let policy):
                let key = Self.key(policy)
                let generation = policy.metadata.generation ?? 0
                if generations[key] != generation {
                    generations[key] = generation
                    await queue.add(key)
                }
            case .deleted(let policy):
                let key = Self.key(policy)
                generations[key] = nil
                await queue.remove(key)
                reconciler.forget(namespace: policy.metadata.namespace ?? "default", name: policy.metadata.name ?? "")
            case .synced:
                continue
            }
        }
        await queue.shutDown()
    }

    private func work() async {
        while let key = await queue.next() {
            await process(key)
            await queue.done(key)
        }
    }

    private func process(_ key: String) async {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        let namespace = parts.first
        let name = parts.count > 1 ? parts[1] : ""
        guard let policy = policyCaches.lazy.compactMap({ $0.get(namespace: namespace, name: name) }).first else {
            return
        }
        let started = ContinuousClock.now
        let result = await reconciler.reconcile(policy, now: Date())
        let elapsed = ContinuousClock.now - started
        let label =
            switch result {
            case .requeue: "success"
            case .retry: "error"
            case .waitForChange: "invalid"
            }
        reconciles.withLock { $0[label, default: 0] += 1 }
        metrics?.reconciled(
            result: label,
            seconds: elapsed.seconds)
        switch result {
        case .requeue(let seconds):
            await queue.forget(key)
            // The phase is the namespace's: its policies poll together, so one query per signal serves them all.
            let namespace = String(key.split(separator: "/", maxSplits: 1).first ?? "")
            await queue.add(key, after: Self.delay(for: namespace, interval: seconds, now: Date()))
        case .retry(let reason):
            logger.debug("reconcile will be retried", metadata: ["policy": "\(key)", "reason": "\(reason)"])
            await queue.retry(key)
        case .waitForChange:
            await queue.forget(key)
        }
    }

    /// Updates the gauges sampled rather than counted (queue depth, policies, leadership).
    public func refreshGauges() async {
        guard let metrics else { return }
        metrics.queueDepth(await queue.depth, policies: policyCaches.reduce(0) { $0 + $1.count })
        metrics.leader(leadership?.mayWrite ?? true)
    }

    /// The controller's own metrics in the Prometheus text format.
    public func metricsText() async -> String {
        if let metrics {
            await refreshGauges()
            return metrics.text()
        }
        let counts = reconciles.withLock { $0 }
        let depth = await queue.depth
        var text = "# HELP inference_autoscaler_reconciles_total Reconciles by result.\n"
        text += "# TYPE inference_autoscaler_reconciles_total counter\n"
        for result in ["success", "error", "invalid"] {
            text += "inference_autoscaler_reconciles_total{result=\"\(result)\"} \(counts[result] ?? 0)\n"
        }
        text += "# HELP inference_autoscaler_workqueue_depth Policies waiting to be reconciled.\n"
        text += "# TYPE inference_autoscaler_workqueue_depth gauge\ninference_autoscaler_workqueue_depth \(depth)\n"
        text += "# HELP inference_autoscaler_policies Policies in the cache.\n"
        text += "# TYPE inference_autoscaler_policies gauge\n"
        text += "inference_autoscaler_policies \(policyCaches.reduce(0) { $0 + $1.count })\n"
        return text
    }

    /// The wait until the next poll of a group (a namespace): each group keeps its own phase within the interval
    /// (from a hash of its name), so that many groups with one interval are spread over it rather than polled at the
    /// same instant, while the policies of one group poll together. Between half an interval and one and a half, the
    /// first time; exactly one interval after that.
    static func delay(for key: String, interval: Double, now: Date) -> Double {
        guard interval > 0 else { return 0 }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let phase = Double(hash % 1_000_000) / 1_000_000 * interval
        let time = now.timeIntervalSince1970
        var next = ((time - phase) / interval).rounded(.down) * interval + phase + interval
        if next - time < interval / 2 { next += interval }
        return next - time
    }

    static func key(_ policy: InferenceAutoscalePolicy) -> String {
        "\(policy.metadata.namespace ?? "default")/\(policy.metadata.name ?? "")"
    }
}
