import Foundation
import KubernetesClient
import KubernetesModel
import Logging
import Synchronization

/// Pod informers, one per namespace, each started when a policy of that namespace first asks for its pods: the
/// cluster's other pods are never listed, watched or held (a cluster-wide pod cache grows with every unrelated
/// workload). Pods are kept with only the fields the controller reads.
final class PodCaches: Sendable {
    private let client: KubernetesAPIClient
    private let logger: Logger
    private let informers = Mutex<[String: Informer<DynamicObject>]>([:])
    private let started: AsyncStream<Informer<DynamicObject>>
    private let starter: AsyncStream<Informer<DynamicObject>>.Continuation

    init(client: KubernetesAPIClient, logger: Logger) {
        self.client = client
        self.logger = logger
        (started, starter) = AsyncStream.makeStream()
    }

    /// The namespace's pod cache, started on first use.
    func informer(for namespace: String) -> Informer<DynamicObject> {
        let (informer, isNew) = informers.withLock { informers in
            if let existing = informers[namespace] { return (existing, false) }
            let informer = Informer<DynamicObject>(
                client: client, resource: .pods, namespace: namespace, transform: CachedFields.pod,
                deliversEvents: false, logger: logger)
            informers[namespace] = informer
            return (informer, true)
        }
        if isNew { starter.yield(informer) }
        return informer
    }

    /// The namespace's cached pods, once its cache has its first list; throws when it has none after `timeout`
    /// seconds (pods cannot be listed there), so that the reconcile is retried rather than a worker held.
    func pods(
        in namespace: String, timeout: Double = 10, where isIncluded: (DynamicObject) -> Bool
    ) async throws -> [DynamicObject] {
        let cache = informer(for: namespace)
        let deadline = ContinuousClock.now + .seconds(timeout)
        while !cache.hasSynced {
            guard ContinuousClock.now < deadline else { throw NotSynced(namespace: namespace) }
            try await Task.sleep(for: .milliseconds(50))
        }
        return cache.list(namespace: namespace, where: isIncluded)
    }

    struct NotSynced: Error, CustomStringConvertible {
        var namespace: String
        var description: String { "the pods of namespace \(namespace) are not listed yet" }
    }

    /// Runs every informer started so far and those started later, until cancelled.
    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for await informer in started {
                group.addTask { try await informer.run() }
            }
            try await group.waitForAll()
        }
    }
}
