import Foundation
import KubernetesClient
import KubernetesModel
import Logging
import ServiceLifecycle
import Synchronization

/// Whether this replica may write. Checked before every write, so a replica that lost its lease stops at once.
public protocol WriteGate: Sendable {
    var mayWrite: Bool { get }
}

/// A replica that runs alone always writes.
public struct AlwaysWrite: WriteGate {
    public init() {}
    public var mayWrite: Bool { true }
}

/// Whether this replica may write, and a way to wait until it may: what the controller asks of leader election.
public protocol Leadership: WriteGate {
    /// Returns once this replica leads (at once if it does), or when the task is cancelled.
    func waitUntilLeading() async
}

/// Leadership was lost: the lease could not be renewed within the renew deadline, or another replica holds it.
public struct LeadershipLost: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { "leadership lost: \(reason)" }
}

/// A write attempted without the lease.
public struct NotLeaderError: Error, CustomStringConvertible {
    public var description: String { "not the leader: this replica does not hold the lease" }
}

/// Leader election on a `coordination.k8s.io/v1` Lease, as client-go's `leaderelection` does it: acquire when the
/// lease is free or its holder has not renewed it for a lease duration (by this replica's own clock, from when it
/// last saw the record change), renew every retry period, and give up the moment a renewal has not succeeded within
/// the renew deadline. Releasing sets the holder empty so that a standby takes over at its next try. Time is the
/// injected clock's; the Lease's own timestamps are wall time, as the API wants them.
public final class LeaderElector<C: Clock>: Leadership, Service where C.Duration == Duration {
    public struct Configuration: Sendable {
        public var namespace: String
        public var name: String
        /// Unique per replica: `hostname_uuid`.
        public var identity: String
        public var leaseDuration: Double
        public var renewDeadline: Double
        public var retryPeriod: Double

        public init(
            namespace: String, name: String, identity: String, leaseDuration: Double = 15, renewDeadline: Double = 10,
            retryPeriod: Double = 2
        ) {
            self.namespace = namespace
            self.name = name
            self.identity = identity
            self.leaseDuration = leaseDuration
            self.renewDeadline = renewDeadline
            self.retryPeriod = retryPeriod
        }
    }

    private struct State {
        /// Writes are allowed until this instant: the last successful renewal plus the renew deadline.
        var writableUntil: C.Instant?
        /// The last lease record seen, and when (by this replica's clock) it last changed.
        var observed: (spec: LeaseSpec, resourceVersion: String, at: C.Instant)?
    }

    public let configuration: Configuration
    private let client: KubernetesAPIClient
    private let logger: Logger
    private let state = Mutex(State())
    private let clock: C

    public init(client: KubernetesAPIClient, configuration: Configuration, clock: C, logger: Logger) {
        self.clock = clock
        self.client = client
        self.configuration = configuration
        self.logger = logger
    }

    /// True while this replica holds a lease it renewed less than a renew deadline ago.
    public var mayWrite: Bool {
        let now = clock.now
        return state.withLock { $0.writableUntil.map { now < $0 } ?? false }
    }

    /// Returns once this replica leads (at once if it does), or when the task is cancelled.
    public func waitUntilLeading() async {
        while !mayWrite, !Task.isCancelled { try? await clock.sleep(for: .milliseconds(100)) }
    }

    /// As a `Service`: leads until a graceful shutdown, then releases the lease so that a standby takes over at
    /// once. Throws `LeadershipLost` when a renewal does not succeed within the renew deadline.
    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await self.lead() }
        } catch is CancellationError {}
        // Cancelled (not shut down gracefully), the release request is cancelled too: the lease then expires.
        await release()
    }

    /// Acquires the lease (trying every retry period), then renews it until the task is cancelled; call `release()`
    /// after, from a task that is not cancelled. Throws `LeadershipLost` when a renewal does not succeed within the
    /// renew deadline.
    public func lead() async throws {
        while !Task.isCancelled {
            if (try? await tryAcquireOrRenew()) == true { break }
            try? await clock.sleep(for: .seconds(configuration.retryPeriod))
        }
        if Task.isCancelled { return }
        logger.notice("became the leader", metadata: ["lease": "\(configuration.namespace)/\(configuration.name)"])

        while !Task.isCancelled {
            try? await clock.sleep(for: .seconds(configuration.retryPeriod))
            if Task.isCancelled { break }
            let deadline = state.withLock { $0.writableUntil } ?? clock.now
            var renewed = false
            var lastError = "no answer"
            // client-go: retry within the renew deadline, then give up.
            while !renewed, clock.now < deadline, !Task.isCancelled {
                do {
                    renewed = try await tryAcquireOrRenew()
                    if !renewed {
                        lastError =
                            "the lease is held by \(state.withLock { $0.observed?.spec.holderIdentity } ?? "another")"
                        break
                    }
                } catch {
                    lastError = "\(error)"
                    try? await clock.sleep(for: .seconds(min(configuration.retryPeriod, 0.5)))
                }
            }
            if Task.isCancelled { break }
            if !renewed {
                state.withLock { $0.writableUntil = nil }
                logger.error("leadership lost", metadata: ["error": "\(lastError)"])
                throw LeadershipLost(reason: lastError)
            }
        }
    }

    /// Gives the lease up (holder empty), so that a standby takes over at its next try. Writes stop first.
    public func release() async {
        let held = state.withLock { state -> (LeaseSpec, String)? in
            defer { state.writableUntil = nil }
            guard state.writableUntil != nil, let observed = state.observed else { return nil }
            return (observed.spec, observed.resourceVersion)
        }
        guard let (spec, resourceVersion) = held, spec.holderIdentity == configuration.identity else { return }
        var released = spec
        released.holderIdentity = nil
        released.leaseDurationSeconds = 1
        released.renewTime = LiveClusterAPI.microTime(Date())
        do {
            _ = try await client.update(
                lease(released, resourceVersion: resourceVersion), .leases, namespace: configuration.namespace,
                name: configuration.name)
            logger.notice("released the lease", metadata: ["lease": "\(configuration.namespace)/\(configuration.name)"])
        } catch {
            logger.warning("cannot release the lease", metadata: ["error": "\(error)"])
        }
    }

    /// One round of client-go's `tryAcquireOrRenew`: true when this replica holds the lease afterwards.
    func tryAcquireOrRenew() async throws -> Bool {
        let now = Date()
        let stamp = LiveClusterAPI.microTime(now)
        let existing: DynamicObject
        do {
            existing = try await client.get(
                DynamicObject.self, .leases, namespace: configuration.namespace, name: configuration.name)
        } catch let error as KubernetesError where error.isNotFound {
            let spec = LeaseSpec(
                holderIdentity: configuration.identity, leaseDurationSeconds: Int(configuration.leaseDuration),
                acquireTime: stamp, renewTime: stamp, leaseTransitions: 0)
            let created = try await client.create(
                lease(spec, resourceVersion: nil), .leases, namespace: configuration.namespace)
            renewed(spec, resourceVersion: created.metadata.resourceVersion ?? "")
            return true
        }
        let spec = LeaseSpec(existing["spec"])
        let resourceVersion = existing.metadata.resourceVersion ?? ""
        let observedAt = state.withLock { state -> C.Instant in
            if let observed = state.observed, observed.spec == spec { return observed.at }
            state.observed = (spec, resourceVersion, clock.now)
            return clock.now
        }
        let holder = spec.holderIdentity ?? ""
        let duration = Double(spec.leaseDurationSeconds ?? Int(configuration.leaseDuration))
        if !holder.isEmpty, holder != configuration.identity, clock.now < observedAt.advanced(by: .seconds(duration)) {
            return false
        }

        var next = spec
        next.holderIdentity = configuration.identity
        next.leaseDurationSeconds = Int(configuration.leaseDuration)
        next.renewTime = stamp
        if holder != configuration.identity {
            next.acquireTime = stamp
            next.leaseTransitions = (spec.leaseTransitions ?? 0) + 1
        }
        let updated = try await client.update(
            lease(next, resourceVersion: resourceVersion), .leases, namespace: configuration.namespace,
            name: configuration.name)
        renewed(next, resourceVersion: updated.metadata.resourceVersion ?? "")
        return true
    }

    private func renewed(_ spec: LeaseSpec, resourceVersion: String) {
        let now = clock.now
        state.withLock { state in
            state.observed = (spec, resourceVersion, now)
            state.writableUntil = now.advanced(by: .seconds(configuration.renewDeadline))
        }
    }

    private func lease(_ spec: LeaseSpec, resourceVersion: String?) throws -> DynamicObject {
        var metadata: [String: JSONValue] = [
            "name": .string(configuration.name), "namespace": .string(configuration.namespace),
        ]
        if let resourceVersion { metadata["resourceVersion"] = .string(resourceVersion) }
        return try DynamicObject(
            .object([
                "apiVersion": .string("coordination.k8s.io/v1"), "kind": .string("Lease"),
                "metadata": .object(metadata),
                "spec": spec.json,
            ]))
    }
}

extension LeaderElector where C == ContinuousClock {
    public convenience init(client: KubernetesAPIClient, configuration: Configuration, logger: Logger) {
        self.init(client: client, configuration: configuration, clock: ContinuousClock(), logger: logger)
    }
}

/// The fields of a Lease's spec that leader election uses.
struct LeaseSpec: Equatable, Sendable {
    var holderIdentity: String?
    var leaseDurationSeconds: Int?
    var acquireTime: String?
    var renewTime: String?
    var leaseTransitions: Int?

    init(
        holderIdentity: String?, leaseDurationSeconds: Int?, acquireTime: String?, renewTime: String?,
        leaseTransitions: Int?
    ) {
        self.holderIdentity = holderIdentity
        self.leaseDurationSeconds = leaseDurationSeconds
        self.acquireTime = acquireTime
        self.renewTime = renewTime
        self.leaseTransitions = leaseTransitions
    }

    init(_ json: JSONValue?) {
        func string(_ key: String) -> String? {
            if case .string(let value)? = json?[key] { return value }
            return nil
        }
        func int(_ key: String) -> Int? {
            if case .number(let value)? = json?[key] { return Int(value) }
            return nil
        }
        self.init(
            holderIdentity: string("holderIdentity").flatMap { $0.isEmpty ? nil : $0 },
            leaseDurationSeconds: int("leaseDurationSeconds"), acquireTime: string("acquireTime"),
            renewTime: string("renewTime"), leaseTransitions: int("leaseTransitions"))
    }

    var json: JSONValue {
        var members: [String: JSONValue] = [:]
        if let holderIdentity { members["holderIdentity"] = .string(holderIdentity) }
        if let leaseDurationSeconds { members["leaseDurationSeconds"] = .number(Double(leaseDurationSeconds)) }
        if let acquireTime { members["acquireTime"] = .string(acquireTime) }
        if let renewTime { members["renewTime"] = .string(renewTime) }
        if let leaseTransitions { members["leaseTransitions"] = .number(Double(leaseTransitions)) }
        return .object(members)
    }
}
