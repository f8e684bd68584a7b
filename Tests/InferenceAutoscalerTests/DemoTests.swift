import Foundation
import Testing

/// `make demo`, shortened to about a minute: the real controller, the real Prometheus, the test API server and the
/// simulated pods, end to end.
@Suite(.serialized) struct DemoTests {
    struct Summary: Decodable {
        struct Change: Decodable {
            var time: Double
            var from: Int
            var to: Int
        }

        var interrupted: Bool
        var requests: Int
        var gpu_minutes: Double
        var static_peak_gpu_minutes: Double
        var initial_replicas: Int
        var max_replicas: Int
        var final_replicas: Int
        var scale_changes: [Change]
        var slo_attainment: Double?
    }

    /// A running `inference-tools demo`, its output going to a file.
    final class Demo {
        let process = Process()
        let directory: URL
        let output: URL

        init(_ extra: [String]) throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("demo-test-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            output = directory.appendingPathComponent("stdout")
            FileManager.default.createFile(atPath: output.path, contents: nil)
            let root = CommandLineTests.packageRoot
            process.executableURL = try CommandLineTests.binary("inference-tools")
            process.arguments =
                [
                    "demo",
                    "--out", directory.appendingPathComponent("out").path,
                    "--crd",
                    root.appendingPathComponent("crds/autoscaling.inference.dev_inferenceautoscalepolicies.yaml").path,
                    "--policy", CommandLineTests.fixture("demo/fast-policy.yaml"), "--cold-start", "5",
                    "--scrape-interval", "1", "--plain",
                ] + extra
            process.standardOutput = try FileHandle(forWritingTo: output)
            process.standardError = process.standardOutput
            try process.run()
        }

        var text: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
        var out: URL { directory.appendingPathComponent("out") }

        /// Waits until the output contains `marker`.
        func wait(for marker: String, timeout: Double) async throws {
            let deadline = Date().addingTimeInterval(timeout)
            while !text.contains(marker) {
                guard Date() < deadline, process.isRunning else {
                    Issue.record("no \"\(marker)\" in the demo's output:\n\(text)")
                    throw CancellationError()
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }

        func waitForExit(timeout: Double) async -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(200)) }
            if process.isRunning {
                process.interrupt()
                return false
            }
            return true
        }

        func summary() throws -> Summary {
            try JSONDecoder().decode(Summary.self, from: Data(contentsOf: out.appendingPathComponent("summary.json")))
        }

        func cleanUp() {
            if process.isRunning { process.terminate() }
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// kubectl on the PATH (`make test` installs one).
    static var kubectl: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin"
        return path.split(separator: ":").map { "\($0)/kubectl" }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    static func kubectl(_ arguments: [String], kubeconfig: URL) throws -> CommandLineTests.Run {
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = kubeconfig.deletingLastPathComponent().path
        return try CommandLineTests.run(
            ["--kubeconfig", kubeconfig.path, "--request-timeout", "10s"] + arguments,
            executable: URL(fileURLWithPath: kubectl!), environment: environment)
    }

    @Test func replicasGoUpUnderLoadAndBackDownAfterIt() async throws {
        let demo = try Demo(["--minutes", "1"])
        defer { demo.cleanUp() }
        try await demo.wait(for: "[5/5]", timeout: 60)
        let kubeconfig = demo.out.appendingPathComponent("kubeconfig")

        if Self.kubectl != nil {
            // The printer columns from the CRD, through kubectl's Table request.
            let listed = try Self.kubectl(["get", "iap", "-n", "inference"], kubeconfig: kubeconfig)
            #expect(listed.status == 0, "\(listed.stderr)")
            #expect(listed.stdout.contains("LIMITED-BY"))
            #expect(listed.stdout.contains("llama3-8b"))
        }
        #expect(await demo.waitForExit(timeout: 150), "the demo did not end by itself:\n\(demo.text)")
        #expect(demo.process.terminationStatus == 0, "\(demo.text)")

        let summary = try demo.summary()
        #expect(!summary.interrupted)
        #expect(summary.requests > 1000)
        #expect(summary.max_replicas > summary.initial_replicas, "no scale-up:\n\(demo.text)")
        #expect(summary.final_replicas < summary.max_replicas, "no scale-down:\n\(demo.text)")
        let firstUp = try #require(summary.scale_changes.first { $0.to > $0.from })
        let lastDown = try #require(summary.scale_changes.last { $0.to < $0.from })
        #expect(firstUp.time < lastDown.time)
        #expect(summary.gpu_minutes < summary.static_peak_gpu_minutes)
        #expect(summary.slo_attainment != nil)

        let chart = try String(contentsOf: demo.out.appendingPathComponent("timeline.svg"), encoding: .utf8)
        #expect(chart.hasPrefix("<svg"))
        let csv = try String(contentsOf: demo.out.appendingPathComponent("timeline.csv"), encoding: .utf8)
        #expect(csv.split(separator: "\n").count > 20)
        #expect(demo.text.contains("GPU-minutes"))
        let controllerLog = try String(contentsOf: demo.out.appendingPathComponent("controller.log"), encoding: .utf8)
        #expect(controllerLog.contains("scaled"))

        // Everything stopped with it: the API server in the kubeconfig answers no more.
        if Self.kubectl != nil {
            let after = try Self.kubectl(["get", "iap", "-n", "inference"], kubeconfig: kubeconfig)
            #expect(after.status != 0)
        }
    }

    @Test func ctrlCStopsEverythingAndStillSummarises() async throws {
        let demo = try Demo(["--minutes", "5"])
        defer { demo.cleanUp() }
        try await demo.wait(for: "[5/5]", timeout: 60)
        try await Task.sleep(for: .seconds(3))
        demo.process.interrupt()
        // Stopping takes seconds (its processes, a loaded machine); running on would take the rest of 5 minutes.
        #expect(await demo.waitForExit(timeout: 60), "the demo did not stop on SIGINT:\n\(demo.text)")
        #expect(demo.process.terminationStatus == 0)
        let summary = try demo.summary()
        #expect(summary.interrupted)
        #expect(demo.text.contains("Summary (interrupted)"))
        let controllerLog = try String(contentsOf: demo.out.appendingPathComponent("controller.log"), encoding: .utf8)
        #expect(controllerLog.contains("stopped"))
    }
}
