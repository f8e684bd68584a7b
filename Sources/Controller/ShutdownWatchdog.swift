import Logging
import ServiceLifecycle
import UnixSignals

/// The first service of the group, so the last to be shut down: it returns once everything else shut down
/// gracefully, and calls `cutShort` instead when a second SIGTERM or SIGINT arrives during the shutdown, or when the
/// group is cancelled (a graceful shutdown longer than allowed, or a service that failed: leadership lost). However
/// long a reconcile hangs, the pod's grace period must not run out first.
public struct ShutdownWatchdog: Service {
    let logger: Logger
    let cutShort: @Sendable () -> Void

    public init(logger: Logger, cutShort: @escaping @Sendable () -> Void) {
        self.logger = logger
        self.cutShort = cutShort
    }

    public func run() async throws {
        // The group traps the first signal and shuts down gracefully; this sequence sees it too, and the next.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let logger = self.logger
        let cutShort = self.cutShort
        await cancelWhenGracefulShutdown {
            var caught = 0
            for await _ in signals {
                caught += 1
                if caught == 1 { logger.info("shutting down: finishing the reconciles in flight") }
                if caught > 1 {
                    logger.warning("second signal: exiting now")
                    cutShort()
                }
            }
        }
        if Task.isCancelled {
            logger.warning("shutdown cut short: exiting now")
            cutShort()
        }
    }
}
