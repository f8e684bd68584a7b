import Foundation

/// A program run to its end. Its output goes to files rather than pipes: `control-plane up` leaves daemons behind,
/// and a daemon that inherited a pipe's write end would keep a reader from ever seeing end-of-file.
struct Command: Sendable {
    var executable: String
    var arguments: [String]
    var environment: [String: String]? = nil
    var input: String? = nil
    /// Run the program with no descriptor but 0, 1 and 2, for a program that leaves daemons behind. Foundation's
    /// `Process` on Linux learns that a child exited from the end of a socket the child inherits: a daemon that
    /// inherits it too keeps the child unreaped, so `terminationHandler` never runs and `waitUntilExit()` never
    /// returns. A bash in between keeps that socket while its subshell closes everything and execs the program.
    var closesInheritedDescriptors = false

    private static let closingWrapper = """
        (
            for fd in /proc/self/fd/*; do
                fd=${fd##*/}
                if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
            done
            exec "$@"
        )
        """

    struct Output: Sendable {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    /// Runs to the end, blocking the calling thread: for commands that take a fraction of a second.
    func run() throws -> Output {
        let prepared = try Prepared(self)
        defer { prepared.remove() }
        try prepared.process.run()
        prepared.process.waitUntilExit()
        return try prepared.output()
    }

    /// Runs to the end without holding a thread of the cooperative pool: for `up` and the API server's restarts,
    /// which take seconds to tens of seconds.
    func run() async throws -> Output {
        let prepared = try Prepared(self)
        defer { prepared.remove() }
        let process = prepared.process
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        return try prepared.output()
    }

    /// Throws `KubernetesControlPlane.CommandError` unless the status is 0.
    func check(_ output: Output) throws -> Output {
        guard output.status == 0 else {
            throw KubernetesControlPlane.CommandError(
                command: [executable] + arguments, status: output.status, standardOutput: output.standardOutput,
                standardError: output.standardError)
        }
        return output
    }

    private struct Prepared {
        let process = Process()
        let files: (input: URL?, output: URL, error: URL)

        init(_ command: Command) throws {
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("kube-plane-command-\(UUID())")
            files = (
                command.input == nil ? nil : base.appendingPathExtension("in"), base.appendingPathExtension("out"),
                base.appendingPathExtension("err")
            )
            if command.closesInheritedDescriptors {
                process.executableURL = URL(fileURLWithPath: "/bin/bash")
                process.arguments =
                    ["-c", Command.closingWrapper, "kube-plane"] + [command.executable] + command.arguments
            } else {
                process.executableURL = URL(fileURLWithPath: command.executable)
                process.arguments = command.arguments
            }
            if let environment = command.environment { process.environment = environment }
            if let input = command.input, let file = files.input {
                try input.write(to: file, atomically: false, encoding: .utf8)
                process.standardInput = try FileHandle(forReadingFrom: file)
            } else {
                process.standardInput = FileHandle.nullDevice
            }
            for file in [files.output, files.error] {
                guard FileManager.default.createFile(atPath: file.path, contents: nil) else {
                    throw KubernetesControlPlane.SetupError("cannot create \(file.path)")
                }
            }
            process.standardOutput = try FileHandle(forWritingTo: files.output)
            process.standardError = try FileHandle(forWritingTo: files.error)
        }

        func output() throws -> Output {
            Output(
                status: process.terminationStatus,
                standardOutput: String(decoding: try Data(contentsOf: files.output), as: UTF8.self),
                standardError: String(decoding: try Data(contentsOf: files.error), as: UTF8.self))
        }

        func remove() {
            for file in [files.input, files.output, files.error].compactMap({ $0 }) {
                try? FileManager.default.removeItem(at: file)
            }
        }
    }
}
