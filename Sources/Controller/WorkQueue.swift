import Foundation

/// A queue of policy keys, like controller-runtime's: a key is queued at most once; a key re-added while being
/// processed runs again after; delayed adds (requeue after the polling interval) and per-key exponential backoff.
/// Delayed keys become due when `runTimers()` (run by the owner, in its task group) finds them due, by the queue's
/// clock (a test clock in tests).
public actor WorkQueue<C: Clock> where C.Duration == Duration {
    private var queue: [String] = []
    private var queued: Set<String> = []
    private var processing: Set<String> = []
    private var dirty: Set<String> = []
    private var failures: [String: Int] = [:]
    /// Keys waiting for their time.
    private var delayed: [String: C.Instant] = [:]
    private let clock: C
    private var waiters: [CheckedContinuation<String?, Never>] = []
    private var shuttingDown = false
    public let baseDelay: Double
    public let maxDelay: Double

    public init(clock: C, baseDelay: Double = 1, maxDelay: Double = 300) {
        self.clock = clock
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    public var depth: Int { queue.count }

    /// Queues `key` now (a delayed add for it is superseded).
    public func add(_ key: String) {
        guard !shuttingDown else { return }
        delayed[key] = nil
        if processing.contains(key) {
            dirty.insert(key)
            return
        }
        guard queued.insert(key).inserted else { return }
        if waiters.isEmpty {
            queue.append(key)
        } else {
            queued.remove(key)
            processing.insert(key)
            waiters.removeFirst().resume(returning: key)
        }
    }

    /// Queues `key` after `seconds`, unless it is queued sooner.
    public func add(_ key: String, after seconds: Double) {
        guard !shuttingDown else { return }
        delayed[key] = clock.now.advanced(by: .seconds(seconds))
    }

    /// Moves the delayed keys that are due into the queue; returns when the queue shuts down or the task is
    /// cancelled. `resolution` bounds how late a due key can be.
    public func runTimers(resolution: Duration = .milliseconds(100)) async {
        while !shuttingDown, !Task.isCancelled {
            let now = clock.now
            for (key, due) in delayed where due <= now { add(key) }
            try? await clock.sleep(for: resolution)
        }
    }

    /// Queues `key` after its next backoff delay, and no later than `within` seconds when given.
    public func retry(_ key: String, within: Double? = nil) {
        let count = (failures[key] ?? 0) + 1
        failures[key] = count
        let delay = min(maxDelay, within ?? maxDelay, baseDelay * pow(2, Double(min(count, 64) - 1)))
        add(key, after: delay * Double.random(in: 0.8...1.0))
    }

    /// Clears every key's backoff and queues `keys` now: the API server answers again after an outage, so what
    /// failed meanwhile is tried at once rather than at the end of a backoff grown while it was away.
    public func retryNow(_ keys: [String]) {
        failures.removeAll()
        for key in keys { add(key) }
    }

    /// Failures in a row of `key` (its backoff step).
    func failures(of key: String) -> Int { failures[key] ?? 0 }

    /// Clears `key`'s backoff after a success.
    public func forget(_ key: String) {
        failures[key] = nil
    }

    /// Removes every trace of `key` (the policy is gone).
    public func remove(_ key: String) {
        delayed[key] = nil
        failures[key] = nil
        dirty.remove(key)
        if queued.remove(key) != nil { queue.removeAll { $0 == key } }
    }

    /// The next key to process, or nil once shut down.
    public func next() async -> String? {
        if shuttingDown { return nil }
        if !queue.isEmpty {
            let key = queue.removeFirst()
            queued.remove(key)
            processing.insert(key)
            return key
        }
        return await withCheckedContinuation { waiters.append($0) }
    }

    /// Marks `key` processed; it runs again if it was added meanwhile.
    public func done(_ key: String) {
        processing.remove(key)
        if dirty.remove(key) != nil { add(key) }
    }

    public func shutDown() {
        shuttingDown = true
        delayed.removeAll()
        for waiter in waiters { waiter.resume(returning: nil) }
        waiters.removeAll()
    }
}

extension WorkQueue where C == ContinuousClock {
    public init(baseDelay: Double = 1, maxDelay: Double = 300) {
        self.init(clock: ContinuousClock(), baseDelay: baseDelay, maxDelay: maxDelay)
    }
}
