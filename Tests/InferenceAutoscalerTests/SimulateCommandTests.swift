import Foundation
import PrometheusTestSupport
import Testing

/// `inference-autoscaler simulate`, run as a user would.
@Suite struct SimulateCommandTests {
    static let traces = CommandLineTests.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/traces")
    static let sample = CommandLineTests.packageRoot.appendingPathComponent("config/samples/vllm.yaml").path

    static func scratch() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("simulate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test func aPolicyOnATraceReportsJSONWithAChartAndATimeline() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let chart = directory.appendingPathComponent("chart.svg").path
        let timeline = directory.appendingPathComponent("timeline.csv").path
        let run = try CommandLineTests.run([
            "simulate", "--policy", Self.sample, "--trace",
            Self.traces.appendingPathComponent("azure2023_conv.csv").path,
            "--rate-scale", "2", "--duration", "10m", "--output", "json", "--chart", chart, "--timeline", timeline,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        for key in [
            "requests", "completed", "gpu_hours", "slo_ttft_seconds", "slo_attainment", "ttft_p50", "ttft_p95",
            "ttft_p99", "scale_events", "max_replicas", "mean_replicas",
        ] {
            #expect(json?[key] != nil, "missing \(key)")
        }
        #expect((json?["requests"] as? Int ?? 0) > 1000)
        #expect(json?["slo_ttft_seconds"] as? Double == 2)
        #expect(try String(contentsOfFile: chart, encoding: .utf8).contains("<svg"))
        let rows = try String(contentsOfFile: timeline, encoding: .utf8).split(separator: "\n")
        #expect(rows.first == "time_s,load_rps,waiting,desired,ready,pods,ttft_p95_s,reason")
        #expect(rows.count > 20)
    }

    @Test func aBaselineRunsWithoutAPolicyAndTextIsASummary() throws {
        let run = try CommandLineTests.run([
            "simulate", "--baseline", "hpa", "--max-replicas", "8", "--trace",
            Self.traces.appendingPathComponent("azure2023_code_rate_1s.csv").path, "--duration", "5m",
            "--slo-ttft", "1s",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("scaler") && run.stdout.contains("hpa"))
        #expect(run.stdout.contains("TTFT <= 1.00 s"))
    }

    @Test func aCustomProfileIsReadAndAWrongOneNamesTheField() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = directory.appendingPathComponent("good.yaml")
        try """
        name: tiny-gpu
        prefillTokensPerSecond: 5000
        stepBase: 0.02
        stepPerSequence: 0.001
        maxBatchedTokens: 2048
        maxNumSeqs: 32
        kvCacheTokens: 50000
        coldStart: 30
        gpus: 1
        sloTTFT: 5
        """.write(to: good, atomically: true, encoding: .utf8)
        let trace = Self.traces.appendingPathComponent("azure2023_conv.csv").path
        let ok = try CommandLineTests.run([
            "simulate", "--baseline", "static", "--max-replicas", "4", "--trace", trace, "--duration", "2m",
            "--profile", good.path, "--output", "json",
        ])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("\"profile\" : \"tiny-gpu\""))
        #expect(ok.stdout.contains("\"slo_ttft_seconds\" : 5"))

        let bad = directory.appendingPathComponent("bad.yaml")
        try "name: x\nprefillTokensPerSecond: fast\n".write(to: bad, atomically: true, encoding: .utf8)
        let failed = try CommandLineTests.run([
            "simulate", "--baseline", "static", "--trace", trace, "--profile", bad.path,
        ])
        #expect(failed.status == 2)
        #expect(failed.stderr.contains("prefillTokensPerSecond"))
    }

    @Test(arguments: [
        (["--trace", "/nonexistent.csv", "--baseline", "hpa"], "/nonexistent.csv"),
        (["--trace", "TRACE", "--baseline", "nope"], "--baseline"),
        (["--trace", "TRACE", "--baseline", "hpa", "--rate-scale", "0"], "--rate-scale"),
        (["--trace", "TRACE", "--baseline", "hpa", "--start", "48h"], "nothing of the trace"),
        (["--trace", "TRACE", "--baseline", "hpa", "--profile", "h200"], "--profile"),
        (["--trace", "TRACE"], "--policy"),
    ])
    func badOptionsExitTwoAndSayWhich(_ arguments: [String], _ message: String) throws {
        let trace = Self.traces.appendingPathComponent("azure2023_conv.csv").path
        let run = try CommandLineTests.run(["simulate"] + arguments.map { $0 == "TRACE" ? trace : $0 })
        #expect(run.status == 2)
        #expect(run.stderr.contains(message), "\(run.stderr)")
    }
}

/// `simulate --from-prometheus`: a workload's history, backfilled into a real Prometheus, replayed.
@Suite(.serialized) struct ReplayCommandTests {
    /// The command on a thread of its own: waiting for it must not hold one of the few threads async tests share.
    static func run(_ arguments: [String]) async throws -> CommandLineTests.Run {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try CommandLineTests.run(arguments) }) }.start()
        }
    }

    @Test func aWorkloadsOwnHistoryIsReplayedAndComparedWithWhatItRan() async throws {
        let end = (Date().timeIntervalSince1970 / 60).rounded(.down) * 60 - 120
        let history = TrafficHistory(
            phases: [
                .init(seconds: 3600, pods: 2, requestsPerPod: 1),
                .init(seconds: 3600, pods: 4, requestsPerPod: 1.5, waitingPerPod: 3),
            ], start: end - 7200)
        let prometheus = try await PrometheusServer.start(backfilledWith: history.openMetrics())
        defer { prometheus.stop() }
        let directory = try SimulateCommandTests.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let chart = directory.appendingPathComponent("replay.svg").path
        let until = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: history.end - 15))
        let arguments = [
            "simulate", "--from-prometheus", prometheus.url.absoluteString, "--policy", SimulateCommandTests.sample,
            "--namespace", "inference", "--target", "vllm", "--since", "2h", "--until", until, "--step", "60s",
        ]
        let run = try await Self.run(arguments + ["--output", "json", "--chart", chart])
        #expect(run.status == 0, "\(run.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let live = try #require(json["live"] as? [String: Any])
        // 2 pods for an hour and 4 for the next, one GPU each; 99 % of first tokens within 1 s, so within the 2 s
        // SLO (the sample policy states no objective).
        #expect(abs((live["gpu_hours"] as? Double ?? 0) - 6) < 0.1)
        #expect(live["max_replicas"] as? Int == 4)
        #expect(abs((live["slo_attainment"] as? Double ?? 0) - 0.99) < 0.001)
        let runs = try #require(json["runs"] as? [[String: Any]])
        #expect(runs.map { $0["scaler"] as? String ?? "" }.count == 3)
        #expect(runs.allSatisfy { ($0["requests"] as? Int ?? 0) > 25_000 })
        #expect((json["profile"] as? String ?? "").contains("fitted"))
        let svg = try String(contentsOfFile: chart, encoding: .utf8)
        #expect(svg.contains("live replicas"))

        let text = try await Self.run(arguments + ["--baselines", "oracle"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("live (its own scaler)"))
        #expect(text.stdout.contains("oracle"))
        #expect(text.stdout.contains("vs live"))

        // The second hour only: its 4 pods and 6 req/s, for the live workload as for the replay.
        let cut = try await Self.run(
            arguments + ["--start", "1h", "--duration", "30m", "--baselines", "none", "--output", "json"])
        #expect(cut.status == 0, "\(cut.stderr)")
        let window = try #require(try JSONSerialization.jsonObject(with: Data(cut.stdout.utf8)) as? [String: Any])
        #expect(abs(((window["live"] as? [String: Any])?["gpu_hours"] as? Double ?? 0) - 2) < 0.1)
        #expect(abs((window["requests"] as? Double ?? 0) - 10_800) < 200)
        let replayed = (window["runs"] as? [[String: Any]])?.first?["requests"] as? Int ?? 0
        #expect(abs(Double(replayed) - 10_800) < 500)

        let missing = try await Self.run(arguments.map { $0 == "vllm" ? "absent" : $0 })
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no request counter"))
    }
}
