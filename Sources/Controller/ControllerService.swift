import AutoscalerCore
import Foundation
import KubernetesClient
import Logging
import Synchronization

/// The controller: caches of policies and pods (list + watch), a work queue, and workers that reconcile.
public final class ControllerService: Sendable {
    public struct Configuration: Sendable {
        /// Namespaces to watch; empty for all.
        public var namespaces: [String]
        public var maxConcurrentReconciles: Int

        public init(namespaces: [String] = [], maxConcurrentReconciles: Int = 4) {
            self.namespaces = namespaces
            self.maxConcurrentReconciles = maxConcurrentReconciles
        }
    }

    public let configuration: Configuration
    public let queue = WorkQueue()
    private let policyCaches: [Informer<InferenceAutoscalePolicy>]
    private let podCaches: [String?: Informer<DynamicObject>]
    private let reconciler: PolicyReconciler
    private let logger: Logger
    private let reconciles = Mutex<[String: Int]>([:])

    public init(
        client: KubernetesAPIClient, signals: any SignalSource, configuration: Configuration,
        instance: String = ProcessInfo.processInfo.hostName, logger: Logger = Logger(label: "inference-autoscaler.controller")
    ) {
        self.configuration = configuration
        self.logger = logger
        let scopes: [String?] = configuration.namespaces.isEmpty ? [nil] : configuration.namespaces
        policyCaches = scopes.map { Informer(client: client, resource: .inferenceAutoscalePolicies, namespace: $0, logger: logger) }
        var pods: [String?: Informer<DynamicObject>] = [:]
        for scope in scopes { pods[scope] = Informer(client: client, resource: .pods, namespace: scope, logger: logger) }
        podCaches = pods
        let cluster = LiveClusterAPI(client: client, podCaches: pods, instance: instance, logger: logger)
        reconciler = PolicyReconciler(cluster: cluster, signals: signals, logger: logger)
    }

    /// True once every cache has its first list (for `/readyz`).
    public var hasSynced: Bool {
        policyCaches.allSatisfy(\.hasSynced) && podCaches.values.allSatisfy(\.hasSynced)
    }

    /// Runs until cancelled.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for cache in podCaches.values { group.addTask { try await cache.run() } }
            for cache in policyCaches {
                group.addTask { try await cache.run() }
                group.addTask { await self.enqueueChanges(from: cache) }
            }
            group.addTask { await self.queue.runTimers() }
            for cache in podCaches.values { await cache.waitForSync() }
            for _ in 0..<max(1, configuration.maxConcurrentReconciles) {
                group.addTask { await self.work() }
            }
            defer { group.cancelAll() }
            do {
                try await group.next()
                try await group.waitForAll()
            } catch {
                await queue.shutDown()
                throw error
            }
        }
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
        let result = await reconciler.reconcile(policy, now: Date())
        reconciles.withLock { counts in
            let label =
                switch result {
                case .requeue: "success"
                case .retry: "error"
                case .waitForChange: "invalid"
                }
            counts[label, default: 0] += 1
        }
        switch result {
        case .requeue(let seconds):
            await queue.forget(key)
            await queue.add(key, after: seconds)
        case .retry(let reason):
            logger.debug("reconcile will be retried", metadata: ["policy": "\(key)", "reason": "\(reason)"])
            await queue.retry(key)
        case .waitForChange:
            await queue.forget(key)
        }
    }

    /// The controller's own metrics in the Prometheus text format.
    public func metricsText() async -> String {
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
        text += "inference_autoscaler_policies \(policyCaches.reduce(0) { $0 + $1.list().count })\n"
        return text
    }

    static func key(_ policy: InferenceAutoscalePolicy) -> String {
        "\(policy.metadata.namespace ?? "default")/\(policy.metadata.name ?? "")"
    }
}
