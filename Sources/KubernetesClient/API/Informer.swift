import Foundation
import KubernetesModel
import Logging
import Synchronization

/// What an informer saw change.
public enum InformerEvent<T: Sendable>: Sendable {
    case added(T)
    case modified(T)
    case deleted(T)
    /// The first complete list is in the cache (and again after every re-list).
    case synced
    /// The API server answers again after the list or watch failed (an outage, a restart, its first seconds of 403s
    /// and 429s): what changed meanwhile arrives as events, but a consumer whose own requests failed meanwhile
    /// should try them again now.
    case recovered
}

/// List + watch of one resource type into a local cache, like client-go's informer.
///
/// `run()` lists, then watches from the list's resourceVersion with bookmarks; when the stream ends (the server's
/// timeout, a cut connection) it resumes from the last resourceVersion it saw; when that is too old (410 Gone, as
/// an HTTP status or an ERROR event) it lists again and delivers the difference to its cache as events. So every
/// change reaches `events` once: none is lost across a disconnect, none is repeated by a resume.
public final class Informer<T: KubernetesObject>: Sendable {
    private struct State {
        /// By namespace (`""` for cluster-scoped objects), then by name: a namespace's objects without a scan.
        var store: [String: [String: T]] = [:]
        var synced = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var resourceVersion: String?
    }

    public let resource: APIResource
    /// Changes, in order. One consumer; none kept when made with `deliversEvents: false`.
    public let events: AsyncStream<InformerEvent<T>>
    private let continuation: AsyncStream<InformerEvent<T>>.Continuation
    private let client: KubernetesAPIClient
    private let namespace: String?
    private let labelSelector: String?
    private let fieldSelector: String?
    private let watchTimeout: Int
    private let retry: RetryPolicy
    private let logger: Logger
    private let transform: (@Sendable (T) -> T)?
    private let state = Mutex(State())

    public init(
        client: KubernetesAPIClient, resource: APIResource, namespace: String? = nil, labelSelector: String? = nil,
        fieldSelector: String? = nil, watchTimeoutSeconds: Int = 300,
        retry: RetryPolicy = RetryPolicy(maxAttempts: .max, baseDelay: 0.2, maxDelay: 8),
        transform: (@Sendable (T) -> T)? = nil, deliversEvents: Bool = true,
        logger: Logger = Logger(label: "inference-autoscaler.informer")
    ) {
        self.transform = transform
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.watchTimeout = watchTimeoutSeconds
        self.retry = retry
        self.logger = logger
        // A cache nobody reads events from must not keep them: an unbounded buffer would hold every version seen.
        (events, continuation) = AsyncStream.makeStream(
            of: InformerEvent<T>.self, bufferingPolicy: deliversEvents ? .unbounded : .bufferingNewest(0))
    }

    /// True once the first list is in the cache.
    public var hasSynced: Bool { state.withLock { $0.synced } }

    /// The resourceVersion the cache has reached.
    public var resourceVersion: String? { state.withLock { $0.resourceVersion } }

    /// Returns when the first list is in the cache.
    public func waitForSync() async {
        await withCheckedContinuation { waiter in
            let ready = state.withLock { state -> Bool in
                if state.synced { return true }
                state.waiters.append(waiter)
                return false
            }
            if ready { waiter.resume() }
        }
    }

    public func get(namespace: String?, name: String) -> T? {
        state.withLock { $0.store[namespace ?? ""]?[name] }
    }

    /// Every cached object, ordered by namespace and name.
    public func list() -> [T] {
        state.withLock { state in
            state.store.sorted { $0.key < $1.key }.flatMap { $0.value.sorted { $0.key < $1.key }.map(\.value) }
        }
    }

    /// The cached objects of one namespace that pass `isIncluded`, in no particular order: no scan of the others and
    /// no sort (sorting copied every object and was most of a controller's CPU), and `isIncluded` sees each in place,
    /// so only those it keeps are copied (a reconcile wants its own two pods of a namespace's hundreds, or the one
    /// policy of a workload).
    public func list(namespace: String, where isIncluded: (T) -> Bool) -> [T] {
        state.withLock { state in state.store[namespace]?.values.filter(isIncluded) ?? [] }
    }

    /// How many objects are cached.
    public var count: Int {
        state.withLock { state in state.store.values.reduce(0) { $0 + $1.count } }
    }

    /// Lists and watches until the task is cancelled. Errors are retried with backoff, never thrown, except
    /// cancellation.
    public func run() async throws {
        defer { continuation.finish() }
        var needsList = true
        var failures = 0
        var announced = false
        while !Task.isCancelled {
            do {
                if needsList {
                    let (items, version) = try await client.listAll(
                        T.self, resource, namespace: namespace, labelSelector: labelSelector,
                        fieldSelector: fieldSelector, transform: transform)
                    replace(with: items, resourceVersion: version)
                    needsList = false
                }
                let stream = try await client.watch(
                    T.self, resource, namespace: namespace, resourceVersion: resourceVersion,
                    labelSelector: labelSelector, fieldSelector: fieldSelector, timeoutSeconds: watchTimeout)
                // The server answers again: announced once per run of failures. The backoff restarts only once the
                // watch delivered something or ended cleanly, so a watch that fails as soon as it opens still backs off.
                if failures > 0, !announced {
                    announced = true
                    continuation.yield(.recovered)
                }
                for try await event in stream {
                    if event.type == .error {
                        if event.status?.code == 410 {
                            needsList = true
                            break
                        }
                        throw KubernetesError(
                            code: event.status?.code ?? 500, reason: event.status?.reason ?? "WatchError",
                            message: event.status?.message ?? "watch ERROR event", status: event.status,
                            request: "WATCH \(resource)")
                    }
                    apply(event)
                    failures = 0
                    announced = false
                }
                failures = 0
                announced = false
            } catch is CancellationError {
                throw CancellationError()
            } catch let error as KubernetesError where error.isGone {
                // Not a failure of the server: it answered, the version was compacted away.
                needsList = true
            } catch {
                failures += 1
                let delay = retry.delay(afterAttempt: failures, retryAfter: nil)
                logger.info(
                    "watch failed; resuming",
                    metadata: ["resource": "\(resource)", "error": "\(error)", "retry.delay": "\(delay)"])
                try await Task.sleep(for: .seconds(delay))
            }
        }
        throw CancellationError()
    }

    static func key(_ namespace: String?, _ name: String?) -> String {
        "\(namespace ?? "")/\(name ?? "")"
    }

    private func replace(with items: [T], resourceVersion: String) {
        let (changes, waiters) = state.withLock { state -> ([InformerEvent<T>], [CheckedContinuation<Void, Never>]) in
            var changes: [InformerEvent<T>] = []
            var fresh: [String: [String: T]] = [:]
            for item in items {
                let namespace = item.metadata.namespace ?? ""
                let name = item.metadata.name ?? ""
                fresh[namespace, default: [:]][name] = item
                if let old = state.store[namespace]?[name] {
                    if old.metadata.resourceVersion != item.metadata.resourceVersion { changes.append(.modified(item)) }
                } else {
                    changes.append(.added(item))
                }
            }
            for (namespace, objects) in state.store.sorted(by: { $0.key < $1.key }) {
                for (name, old) in objects.sorted(by: { $0.key < $1.key }) where fresh[namespace]?[name] == nil {
                    changes.append(.deleted(old))
                }
            }
            state.store = fresh
            state.resourceVersion = resourceVersion
            state.synced = true
            let waiters = state.waiters
            state.waiters.removeAll()
            return (changes, waiters)
        }
        for change in changes { continuation.yield(change) }
        continuation.yield(.synced)
        for waiter in waiters { waiter.resume() }
    }

    private func apply(_ event: WatchEvent<T>) {
        let stored = event.object.map { transform?($0) ?? $0 }
        let change = state.withLock { state -> InformerEvent<T>? in
            if let version = event.resourceVersion { state.resourceVersion = version }
            guard let object = stored else { return nil }
            let namespace = object.metadata.namespace ?? ""
            let name = object.metadata.name ?? ""
            switch event.type {
            case .added, .modified:
                let old = state.store[namespace]?[name]
                state.store[namespace, default: [:]][name] = object
                // A resumed watch may replay what a list already delivered: deliver each version once.
                if let old, old.metadata.resourceVersion == object.metadata.resourceVersion { return nil }
                return old == nil ? .added(object) : .modified(object)
            case .deleted:
                guard state.store[namespace]?.removeValue(forKey: name) != nil else { return nil }
                if state.store[namespace]?.isEmpty == true { state.store[namespace] = nil }
                return .deleted(object)
            case .bookmark, .error:
                return nil
            }
        }
        if let change { continuation.yield(change) }
    }
}
