import Foundation

/// A program the demo starts and must stop again, its output going to a log file.
final class ChildProcess: @unchecked Sendable {
    private let process = Process()
    let name: String

    init(name: String, executable: String, arguments: [String], logFile: String) throws {
        self.name = name
        FileManager.default.createFile(atPath: logFile, contents: nil)
        let log = FileHandle(forWritingAtPath: logFile)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var isRunning: Bool { process.isRunning }

    /// SIGTERM, then SIGKILL if it has not exited after `grace` seconds.
    func stop(grace: Double = 5) async {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
