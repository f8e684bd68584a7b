import AutoscalerCore
import Foundation
import KubernetesClient
import KubernetesModel
import Logging
import ServiceLifecycle

/// The controller as a `Service`: its caches, a work queue, and workers that reconcile. On graceful shutdown no new
/// reconcile starts, those in flight finish, then `run()` returns. The cluster API and the caches come from the
/// caller (the executable wires them), so that tests can run it against a fake or a test API server alike.
public final class ControllerService: Service, Sendable {
    public struct Configuration: Sendable {
        public var maxConcurrentReconciles: Int
        /// What policy authors may make the controller do (Custom queries, Prometheus addresses, headers, TLS).
        public var permissions: TenantPermissions
        /// Before a scale-down, set `controller.kubernetes.io/pod-deletion-cost` on the pods (needs pods `patch`).
        public var markDeletionCosts: Bool
        /// How often the sampled gauges (queue depth, policies, leadership) are brought up to date.
        public var gaugeInterval: Duration
        /// How often values alone (signal values, condition messages, the shadow's counters) refresh status.
        public var valueRefresh: Double

        public init(
            maxConcurrentReconciles: Int = 4, permissions: TenantPermissions = .init(), markDeletionCosts: Bool = true,
            gaugeInterval: Duration = .seconds(2), valueRefresh: Double = ReconcilePlanner.valueRefreshInterval
        ) {
            self.valueRefresh = valueRefresh
            self.maxConcurrentReconciles = maxConcurrentReconciles
            self.permissions = permissions
            self.markDeletionCosts = markDeletionCosts
            self.gaugeInterval = gaugeInterval
        }
    }

    public let configuration: Configuration
    public let queue = WorkQueue()
    public let metrics: ControllerMetrics
    private let caches: ControllerCaches
    private let reconciler: PolicyReconciler
    private let logger: Logger
    private let leadership: (any Leadership)?

    /// - Parameter leadership: with leader election, workers start only once this replica leads; `cluster` asks it
    ///   before every write.
    public init(
        caches: ControllerCaches, cluster: any ClusterAPI, signals: any SignalSource, configuration: Configuration,
        leadership: (any Leadership)? = nil, metrics: ControllerMetrics = ControllerMetrics(),
        logger: Logger = Logger(label: "inference-autoscaler.controller")
    ) {
        self.caches = caches
        self.leadership = leadership
        self.metrics = metrics
        self.configuration = configuration
        self.logger = logger
        reconciler = PolicyReconciler(
            cluster: cluster, signals: signals, metrics: metrics,
            permissions: configuration.permissions, markDeletionCosts: configuration.markDeletionCosts,
            valueRefresh: configuration.valueRefresh, logger: logger)
    }

    /// True once every cache has its first list (for `/readyz`).
    public var hasSynced: Bool { caches.hasSynced }

    /// Runs until cancelled, or until a graceful shutdown (or `stopTakingWork()`) let the workers finish what they
    /// hold.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.caches.run() }
            for cache in caches.policies {
                group.addTask { await self.enqueueChanges(from: cache) }
            }
            group.addTask { await self.queue.runTimers() }
            group.addTask { await self.refreshGauges(every: self.configuration.gaugeInterval) }
            group.addTask {
                // Cancelled when the group ends: a graceful shutdown is the only other way out of this wait.
                guard (try? await gracefulShutdown()) != nil else { return }
                await self.stopTakingWork()
            }
            group.addTask {
                await self.caches.waitForSync()
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

    /// Every add or spec change is reconciled at once; status-only updates (our own writes) are not. When the API
    /// server answers again after an outage (the watch recovered, or a re-list after its history was compacted),
    /// every policy of the cache is reconciled at once with its backoff cleared: its writes may have failed
    /// meanwhile, and its load has moved without a watch event.
    private func enqueueChanges(from cache: Informer<InferenceAutoscalePolicy>) async {
        var generations: [String: Int] = [:]
        var listed = false
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
                reconciler.forget(PolicyKey(policy))
            case .synced where !listed:
                listed = true
            case .synced, .recovered:
                await queue.retryNow(cache.list().map(Self.key))
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
        guard let policyKey = PolicyKey(key),
            let policy = caches.policy(namespace: policyKey.namespace, name: policyKey.name)
        else { return }
        let started = ContinuousClock.now
        let result = await reconciler.reconcile(policy, now: Date())
        let elapsed = ContinuousClock.now - started
        // Deleted while it was reconciled: what the round remembered would outlive it.
        guard caches.policy(namespace: policyKey.namespace, name: policyKey.name)?.metadata.uid == policy.metadata.uid
        else {
            reconciler.forget(policyKey)
            return
        }
        let label =
            switch result {
            case .requeue: "success"
            case .retry: "error"
            case .waitForChange: "invalid"
            }
        metrics.reconciled(
            result: label,
            seconds: elapsed.seconds)
        switch result {
        case .requeue(let seconds):
            await queue.forget(key)
            // The phase is the namespace's: its policies poll together, so one query per signal serves them all.
            await queue.add(key, after: Self.delay(for: policyKey.namespace, interval: seconds, now: Date()))
        case .retry(let reason, let within):
            logger.debug("reconcile will be retried", metadata: ["policy": "\(key)", "reason": "\(reason)"])
            await queue.retry(key, within: within)
        case .waitForChange:
            await queue.forget(key)
        }
    }

    /// Updates the gauges sampled rather than counted (queue depth, policies, leadership).
    public func refreshGauges() async {
        metrics.queueDepth(await queue.depth, policies: caches.policyCount)
        metrics.leader(leadership?.mayWrite ?? true)
    }

    private func refreshGauges(every interval: Duration) async {
        while !Task.isCancelled {
            await refreshGauges()
            try? await Task.sleep(for: interval)
        }
    }

    /// The controller's own metrics in the Prometheus text format, gauges brought up to date first.
    public func metricsText() async -> String {
        await refreshGauges()
        return metrics.text()
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

    static func key(_ policy: InferenceAutoscalePolicy) -> String { PolicyKey(policy).description }
}
