import Foundation

/// A client-side token bucket (like client-go's QPS and burst): at most `burst` requests at once, refilled at `qps`.
/// Callers over the limit wait their turn in arrival order.
public actor RateLimiter {
    public struct Configuration: Sendable, Equatable {
        public var qps: Double
        public var burst: Int

        public init(qps: Double = 20, burst: Int = 30) {
            self.qps = qps
            self.burst = burst
        }
    }

    public let configuration: Configuration
    private var tokens: Double
    private var refilledAt: ContinuousClock.Instant
    private let clock = ContinuousClock()

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.tokens = Double(max(1, configuration.burst))
        self.refilledAt = clock.now
    }

    /// Waits until a request may go.
    public func acquire() async throws {
        guard configuration.qps > 0 else { return }
        let now = clock.now
        let elapsed = refilledAt.duration(to: now)
        let seconds = elapsed.seconds
        tokens = min(Double(max(1, configuration.burst)), tokens + seconds * configuration.qps)
        refilledAt = now
        // Take the token now (the count may go below zero) and wait for it to exist: later callers queue behind.
        tokens -= 1
        if tokens < 0 {
            try await Task.sleep(for: .seconds(-tokens / configuration.qps))
        }
    }
}

/// When and how often to try a request again.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    public var baseDelay: Double
    public var maxDelay: Double

    public init(maxAttempts: Int = 5, baseDelay: Double = 0.2, maxDelay: Double = 10) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    public static let none = RetryPolicy(maxAttempts: 1)
    static let longestRetryAfter = 60.0

    /// Exponential with full jitter in [½, 1] of the step, so that many clients do not retry in lockstep; a server's
    /// `Retry-After` wins when it asks for longer.
    public func delay(afterAttempt attempt: Int, retryAfter: Double?) -> Double {
        let step = min(maxDelay, baseDelay * pow(2, Double(max(0, attempt - 1))))
        let jittered = step * Double.random(in: 0.5...1)
        guard let retryAfter else { return jittered }
        // Honour the server, within reason: a controller must not sleep for an hour on one header.
        return min(max(retryAfter, jittered), Self.longestRetryAfter)
    }
}
