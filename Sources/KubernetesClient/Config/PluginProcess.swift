import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What a finished plugin left: its exit status (or the signal that killed it) and everything it printed.
struct PluginOutput: Sendable {
    var status: Int32
    var signaled: Bool
    var stdout: Data
    var stderr: Data
}

/// Runs a short-lived child process without blocking the cooperative thread pool.
///
/// `Process.waitUntilExit` and blocking pipe reads would park a cooperative thread for as long as the plugin runs
/// (a browser login can take minutes). Instead the exit arrives through `terminationHandler`, the two pipes are
/// drained to end of file on two threads of their own (both at once, so a plugin that fills one pipe cannot deadlock;
/// not on Dispatch's global queues, whose threads Swift concurrency shares on Linux), and a continuation resumes once
/// all three are in. A task group races the run against the timeout; cancelling the run kills the child (SIGKILL).
enum PluginProcess {
    enum Failure: Error {
        case launch(String)
        case timedOut
    }

    static func run(
        executable: String, arguments: [String], environment: [String: String], timeout: Duration
    ) async throws -> PluginOutput {
        try await withThrowingTaskGroup(of: PluginOutput?.self) { group in
            group.addTask {
                try await runToCompletion(executable: executable, arguments: arguments, environment: environment)
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            // The first to finish decides; leaving the group cancels the other (killing the plugin on a timeout).
            defer { group.cancelAll() }
            guard let first = try await group.next(), let output = first else {
                throw Failure.timedOut
            }
            return output
        }
    }

    private static func runToCompletion(
        executable: String, arguments: [String], environment: [String: String]
    ) async throws -> PluginOutput {
        let run = PluginRun()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.terminationHandler = { finished in
            run.exited(status: finished.terminationStatus, signaled: finished.terminationReason == .uncaughtSignal)
        }
        // `process` lives in this frame until the run is over; the handlers only hold `run`.
        defer { withExtendedLifetime(process) {} }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                guard run.begin(continuation) else { return }
                do {
                    try process.run()
                } catch {
                    run.failed(Failure.launch("\(error.localizedDescription)"))
                    return
                }
                run.started(pid: process.processIdentifier)
                // The child has its own copies of the write ends; ours must close for end of file to arrive.
                try? stdout.fileHandleForWriting.close()
                try? stderr.fileHandleForWriting.close()
                let stdoutReader = stdout.fileHandleForReading
                let stderrReader = stderr.fileHandleForReading
                // Blocking reads on threads of their own: on Linux, Dispatch's global queues share their few
                // threads with Swift concurrency, so blocking them would stall every task for a while.
                Thread { run.collected(stdout: stdoutReader.readDataToEndOfFile()) }.start()
                Thread { run.collected(stderr: stderrReader.readDataToEndOfFile()) }.start()
            }
        } onCancel: {
            run.cancel()
        }
    }
}

/// The state of one plugin run, shared by the termination handler, the two pipe readers and cancellation.
private final class PluginRun: Sendable {
    private struct State {
        var continuation: CheckedContinuation<PluginOutput, any Error>?
        var cancelled = false
        var pid: pid_t?
        var exit: (status: Int32, signaled: Bool)?
        var stdout: Data?
        var stderr: Data?
    }

    private let state = Mutex(State())

    /// Stores the continuation; false (and resumed with `CancellationError`) if the task was already cancelled.
    func begin(_ continuation: CheckedContinuation<PluginOutput, any Error>) -> Bool {
        let cancelled = state.withLock { state in
            if !state.cancelled { state.continuation = continuation }
            return state.cancelled
        }
        if cancelled { continuation.resume(throwing: CancellationError()) }
        return !cancelled
    }

    /// Records the child's pid, killing it at once if cancellation came while it was being started.
    func started(pid: pid_t) {
        let cancelled = state.withLock { state in
            state.pid = pid
            return state.cancelled && state.exit == nil
        }
        if cancelled { Self.terminate(pid) }
    }

    func failed(_ error: any Error) {
        state.withLock { state in state.continuation.take() }?.resume(throwing: error)
    }

    func exited(status: Int32, signaled: Bool) {
        update { $0.exit = (status, signaled) }
    }

    func collected(stdout: Data) {
        update { $0.stdout = stdout }
    }

    func collected(stderr: Data) {
        update { $0.stderr = stderr }
    }

    func cancel() {
        let (continuation, pid) = state.withLock { state in
            state.cancelled = true
            return (state.continuation.take(), state.exit == nil ? state.pid : nil)
        }
        if let pid { Self.terminate(pid) }
        continuation?.resume(throwing: CancellationError())
    }

    /// Applies one event and resumes the waiter when the exit and both outputs are in.
    private func update(_ change: (inout State) -> Void) {
        let ready: (CheckedContinuation<PluginOutput, any Error>, PluginOutput)? = state.withLock { state in
            change(&state)
            guard let exit = state.exit, let stdout = state.stdout, let stderr = state.stderr,
                let continuation = state.continuation.take()
            else { return nil }
            return (
                continuation, PluginOutput(status: exit.status, signaled: exit.signaled, stdout: stdout, stderr: stderr)
            )
        }
        if let (continuation, output) = ready { continuation.resume(returning: output) }
    }

    /// SIGKILL to the child, as a context deadline does for Go's `exec.CommandContext`.
    private static func terminate(_ pid: pid_t) {
        _ = kill(pid, SIGKILL)
    }
}
