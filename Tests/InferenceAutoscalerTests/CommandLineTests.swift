import Foundation
import Testing

/// Runs the built `inference-autoscaler` binary, as a user would.
@Suite struct CommandLineTests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The binary sits next to the test bundle in the build products folder.
    static func binary(_ name: String = "inference-autoscaler") throws -> URL {
        var directory = Bundle.main.bundleURL
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        let fallback = packageRoot.appendingPathComponent(".build/debug/\(name)")
        guard FileManager.default.isExecutableFile(atPath: fallback.path) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: fallback.path])
        }
        return fallback
    }

    /// Runs the binary (or `executable`) to its end, with `environment` when given.
    static func run(_ arguments: [String], executable: URL? = nil, environment: [String: String]? = nil) throws -> Run {
        let process = Process()
        process.executableURL = try executable ?? binary()
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    static func fixture(_ path: String) -> String { fixtures.appendingPathComponent(path).path }

    /// The `# expect: …` lines at the top of a fixture.
    static func expectations(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            .filter { $0.hasPrefix("# expect: ") }
            .map { String($0.dropFirst("# expect: ".count)) }
    }

    static var invalidFixtures: [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: fixture("invalid")))?.sorted() ?? []
    }

    @Test func everySampleIsValid() throws {
        let samples = Self.packageRoot.appendingPathComponent("config/samples").path
        let run = try Self.run(["validate", samples])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: samples).filter { $0.hasSuffix(".yaml") }
        #expect(names.count >= 7)
        #expect(run.stdout.split(separator: "\n").filter { $0.hasSuffix(": valid") }.count == names.count)
    }

    @Test func theInvalidFixturesAreAllThere() {
        #expect(Self.invalidFixtures.count >= 10)
    }

    @Test(arguments: invalidFixtures)
    func eachInvalidFileReportsItsViolations(_ name: String) throws {
        let path = Self.fixture("invalid/\(name)")
        let run = try Self.run(["validate", path])
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let expected = try Self.expectations(path)
        #expect(!expected.isEmpty)
        for line in expected {
            #expect(lines.contains { $0.hasPrefix("\(path): \(line)") }, "missing \(line) in \(lines)")
        }
        // One line per violation (and one per valid policy), nothing else on stdout.
        #expect(lines.count == expected.count, "\(lines)")
    }

    @Test func violationsOfSeveralFilesAreAllReported() throws {
        let files = Self.invalidFixtures.map { Self.fixture("invalid/\($0)") }
        let run = try Self.run(["validate"] + files)
        #expect(run.status == 1)
        let expected = try files.flatMap { file in try Self.expectations(file).map { "\(file): \($0)" } }
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == expected.count)
        for prefix in expected {
            #expect(lines.contains { $0.hasPrefix(prefix) }, "missing \(prefix)")
        }
    }

    @Test(arguments: [("unparsable/bad-indent.yaml", ":8:"), ("unparsable/broken.json", ":3:")])
    func unparsableFilesExitTwoWithLineAndColumn(_ name: String, _ line: String) throws {
        let path = Self.fixture(name)
        let run = try Self.run(["validate", path])
        #expect(run.status == 2)
        let message = run.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(message.hasPrefix(path + line), "\(message)")
        #expect(message.range(of: #"^[^:]+:\d+:\d+: \S"#, options: .regularExpression) != nil, "\(message)")
    }

    @Test func aMissingFileExitsTwoAndNamesIt() throws {
        let run = try Self.run(["validate", "/nonexistent/policy.yaml"])
        #expect(run.status == 2)
        #expect(run.stderr.contains("/nonexistent/policy.yaml: cannot read file: no such file"))
    }

    @Test func anUnreadableFileWinsOverViolations() throws {
        let run = try Self.run(["validate", Self.fixture("invalid/bad-cron.yaml"), "/nonexistent.yaml"])
        #expect(run.status == 2)
        #expect(run.stdout.contains("spec.schedules[0].start"))
    }

    @Test func aListOfPoliciesInJSONIsValid() throws {
        let run = try Self.run(["validate", Self.fixture("valid/policies.json")])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("inference/a: valid"))
        #expect(run.stdout.contains("inference/b: valid"))
    }

    @Test func decidePrintsTheDecisionAsJSON() throws {
        let policy = Self.packageRoot.appendingPathComponent("config/samples/vllm.yaml").path
        let run = try Self.run(["decide", "--policy", policy, "--state", Self.fixture("valid/state.json")])
        #expect(run.status == 0, "\(run.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        // QueueDepth: ceil(2 × 21 / 5) = 9; one step from 2 allows max(2 + 4, 2 × 2) = 6.
        #expect(json["desiredReplicas"] as? Int == 6)
        #expect(json["limitedBy"] as? String == "scaleUpRate")
        let signals = try #require(json["signals"] as? [[String: Any]])
        #expect(
            signals.map { $0["type"] as? String } == [
                "QueueDepth", "TimeToFirstToken", "KVCacheUtilization", "RunningRequests",
            ])
        #expect(signals[0]["recommendation"] as? Int == 9)
        #expect(signals[2]["error"] as? String == "no series for vllm:kv_cache_usage_perc")
        let history = try #require(json["history"] as? [String: Any])
        let events = try #require(history["scaleEvents"] as? [[String: Any]])
        #expect(events.first?["time"] as? String == "2026-11-23T10:00:30Z")
        #expect(events.first?["change"] as? Int == 4)
        #expect(history["learnedStartupSeconds"] as? Double == 90)
    }

    @Test func decideReplaysFromTheHistoryItPrinted() throws {
        let policy = Self.packageRoot.appendingPathComponent("config/samples/vllm.yaml").path
        let first = try Self.run(["decide", "--policy", policy, "--state", Self.fixture("valid/state.json")])
        let decision = try #require(try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any])
        // Ten seconds later, still inside the 15 s period: the +4 already used this period's Pods allowance.
        let state: [String: Any] = [
            "now": "2026-11-23T10:00:40Z",
            "observed": ["desiredReplicas": 6, "readyReplicas": 6],
            "samples": [["value": 21], ["value": 0.3], ["value": 0.5]],
            "history": decision["history"]!,
        ]
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: state).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let second = try Self.run(["decide", "--policy", policy, "--state", file.path])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(second.stdout.utf8)) as? [String: Any])
        // The period started at 2: max(2 + 4, 2 × 2) = 6 is the most allowed until it ends.
        #expect(json["desiredReplicas"] as? Int == 6)
        #expect(json["limitedBy"] as? String == "scaleUpRate")
    }

    @Test func decideRejectsAnInvalidPolicyAndABadState() throws {
        let invalid = try Self.run([
            "decide", "--policy", Self.fixture("invalid/min-above-max.yaml"), "--state",
            Self.fixture("valid/state.json"),
        ])
        #expect(invalid.status == 1)
        #expect(invalid.stdout.contains("spec.maxReplicas: must be >= spec.minReplicas (2 < 4)"))
        let policy = Self.packageRoot.appendingPathComponent("config/samples/vllm.yaml").path
        let badState = try Self.run(["decide", "--policy", policy, "--state", Self.fixture("valid/policies.json")])
        #expect(badState.status == 2)
        #expect(badState.stderr.contains("observed: required"), "\(badState.stderr)")
    }

    @Test func versionPrintsTheVersion() throws {
        let run = try Self.run(["version"])
        #expect(run.status == 0)
        #expect(run.stdout.hasPrefix("inference-autoscaler 0."))
    }
}
