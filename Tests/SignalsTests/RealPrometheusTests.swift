import AutoscalerCore
import CurlHTTP
import Foundation
import KubernetesModel
import MetricsFixture
import PrometheusTestSupport
import Synchronization
import Testing

@testable import Signals

/// The presets and the client against a real Prometheus scraping the fixture exporter.
@Suite(.serialized, .timeLimit(.minutes(3))) struct RealPrometheusTests {
    static func signal(
        _ type: SignalType, _ targetType: TargetType = .averageValue, quantile: Double? = nil
    ) -> ResolvedPolicy.Signal {
        // A short rate window: rate() divides by the whole window, and the test has only seconds of history.
        .init(
            type: type, target: 1, targetType: targetType,
            quantile: quantile ?? (type == .timeToFirstToken ? 0.95 : nil), window: 5)
    }

    /// Starts an exporter and a Prometheus scraping it, runs `body`, stops both.
    static func withPrometheus(
        _ setUp: (FixtureExporter) -> Void,
        _ body: (PrometheusServer, FixtureExporter, PrometheusQueryClient) async throws -> Void
    ) async throws {
        let exporter = try await FixtureExporter.start()
        setUp(exporter)
        let prometheus = try await PrometheusServer.start(scraping: [exporter.address])
        let client = PrometheusQueryClient(configuration: .init(address: prometheus.url, timeout: 5))
        do {
            try await body(prometheus, exporter, client)
        } catch {
            prometheus.stop()
            try await exporter.stop()
            throw error
        }
        prometheus.stop()
        try await exporter.stop()
    }

    static func value(
        _ client: PrometheusQueryClient, _ query: String, at time: Date = Date()
    ) async -> Result<Double, PrometheusError> {
        await client.value(query, at: time, maxAge: 30)
    }

    /// A series whose last sample is two minutes old is still within Prometheus' five-minute lookback, so an instant
    /// query returns it; the batch leaves it out, and the pod that sent it counts as silent.
    @Test func aStaleSeriesIsAbsentFromTheBatch() async throws {
        let old = Int64((Date().timeIntervalSince1970 - 120) * 1000)
        let exporter = try await LoopbackHTTPServer.start { _ in
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            return .init(
                status: 200, contentType: "text/plain; version=0.0.4",
                body: """
                    # TYPE vllm:num_requests_waiting gauge
                    vllm:num_requests_waiting{namespace="team",pod="vllm-0"} 2 \(now)
                    vllm:num_requests_waiting{namespace="team",pod="vllm-1"} 50 \(old)

                    """)
        }
        let prometheus = try await PrometheusServer.start(scraping: [exporter.address])
        do {
            try await prometheus.waitForSeries(#"vllm:num_requests_waiting{pod="vllm-1"}"#)
            let source = PrometheusSignalSource(defaultAddress: prometheus.url, staleAfter: 60)
            let json = """
                {"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy",
                 "metadata":{"name":"p","namespace":"team"},
                 "spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"maxReplicas":4,
                         "signals":[{"type":"QueueDepth","target":5}]}}
                """
            let policy = try PolicyValidator.resolve(
                JSONDecoder().decode(InferenceAutoscalePolicy.self, from: Data(json.utf8))
            ).get()
            // Without the freshness check the stale 50 would be averaged in: (2 + 50) / 2 = 26.
            let samples = await source.samples(
                for: policy, pods: ["vllm-0", "vllm-1"], ready: ["vllm-0", "vllm-1"], at: Date())
            #expect(samples == [.value(3.5)])
        } catch {
            prometheus.stop()
            await exporter.stop()
            throw error
        }
        prometheus.stop()
        await exporter.stop()
    }

    /// The planner's request counter through a restart and a stop. vllm-0 serves 20 requests/s; its counter drops
    /// to 0 (the engine restarted in the pod), and later its series ends (the exporter broke); vllm-1 is ready but
    /// never exports one. The rate stays 20 across the reset (read as a drop it would be negative, or 0), the silent
    /// pod is named, and once the series is gone the rate is missing, not 0. The test moves the counter from phase to
    /// phase and reads as of set instants after each (Prometheus evaluates a query at a given time), so a loaded
    /// machine that runs it late still reads the windows it means to.
    @Test func thePlannersRequestRateSurvivesAResetAndGoesMissingWhenTheCounterStops() async throws {
        struct Counter { var since = Date(), serving = true }
        let counter = Mutex(Counter())
        let exporter = try await LoopbackHTTPServer.start { _ in
            let (since, serving) = counter.withLock { ($0.since, $0.serving) }
            let count = 20 * Date().timeIntervalSince(since)
            // Half the first tokens within 1 s, 90 % within 2.5 s.
            let labels = #"namespace="team",pod="vllm-0""#
            let series =
                serving
                ? """
                vllm:time_to_first_token_seconds_count{\(labels)} \(count)
                vllm:time_to_first_token_seconds_bucket{\(labels),le="1.0"} \(count * 0.5)
                vllm:time_to_first_token_seconds_bucket{\(labels),le="2.5"} \(count * 0.9)
                vllm:time_to_first_token_seconds_bucket{\(labels),le="+Inf"} \(count)

                """ : ""
            return .init(status: 200, contentType: "text/plain; version=0.0.4", body: series + "up_fixture 1\n")
        }
        let prometheus = try await PrometheusServer.start(scraping: [exporter.address])
        do {
            try await prometheus.waitForSeries(#"vllm:time_to_first_token_seconds_count{pod="vllm-0"}"#)
            let json = """
                {"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy",
                 "metadata":{"name":"p","namespace":"team"},
                 "spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"maxReplicas":4,
                         "engine":"vllm","objective":{"timeToFirstToken":{"percentile":99,"target":"2s"}}}}
                """
            let policy = try PolicyValidator.resolve(
                JSONDecoder().decode(InferenceAutoscalePolicy.self, from: Data(json.utf8))
            ).get()
            let client = PrometheusQueryClient(configuration: .init(address: prometheus.url, timeout: 5))
            let reader = SignalReader(client: client, plannerWindow: 5)
            let scope = PodScope(namespace: "team", pods: .names(["vllm-0", "vllm-1"]))
            /// Reads as of `instant`, once Prometheus has scraped past it (it scrapes every second).
            func read(at instant: Date) async throws -> WorkloadSample {
                let wait = instant.timeIntervalSinceNow + 2
                if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
                return await reader.workload(policy, scope: scope, ready: ["vllm-0", "vllm-1"], at: instant)
            }

            // Three seconds of counting (at least), then the restart; 3 s after it the 5 s window holds the reset,
            // with samples on both sides.
            try await Task.sleep(for: .seconds(3))
            let reset = Date()
            counter.withLock { $0.since = reset }
            let afterReset = try await read(at: reset.addingTimeInterval(3))
            if case .value(let rate) = afterReset.requestRate {
                #expect(abs(rate - 20) < 5, "rate \(rate)")
            } else {
                Issue.record("no rate: \(afterReset.requestRate)")
            }
            #expect(afterReset.silentPods == ["vllm-1"])
            // Within the 2 s target: 50 % + 40 % × (2 - 1) / (2.5 - 1), as histogram_quantile interpolates.
            if case .value(let share) = afterReset.withinTarget {
                #expect(abs(share - (0.5 + 0.4 / 1.5)) < 0.01, "share \(share)")
            } else {
                Issue.record("no share: \(afterReset.withinTarget)")
            }

            // The series ends; 6.5 s after, no sample is left in the 5 s window.
            let stop = Date()
            counter.withLock { $0.serving = false }
            let stopped = try await read(at: stop.addingTimeInterval(6.5))
            #expect(stopped.requestRate == .missing("request counter: no series matched"))
        } catch {
            prometheus.stop()
            await exporter.stop()
            throw error
        }
        prometheus.stop()
        await exporter.stop()
    }

    @Test func everyPresetReadsItsEnginesMetrics() async throws {
        let engines: [(Engine, String)] = [(.vllm, "inference"), (.sglang, "sg"), (.tgi, "tgi"), (.nim, "nim")]
        try await Self.withPrometheus({ exporter in
            for (engine, namespace) in engines {
                for (index, pod) in ["a", "b"].enumerated() {
                    exporter.set(
                        PodMetrics(
                            namespace: namespace, pod: "\(engine)-\(pod)", engine: engine,
                            waiting: Double(4 + index * 4),
                            running: Double(10 + index * 10), kvCacheUsage: 0.4 + Double(index) * 0.2,
                            gpuUtilization: 70 + Double(index) * 20))
                }
            }
        }) { prometheus, exporter, client in
            try await prometheus.waitForSeries("tgi_queue_size")
            // Counters and histograms need increases inside the rate window: 100 tokens/s per pod, and TTFTs.
            for _ in 0..<8 {
                for (engine, namespace) in engines {
                    for pod in ["a", "b"] {
                        exporter.update(namespace: namespace, pod: "\(engine)-\(pod)") { metrics in
                            metrics.generatedTokens += 100
                            metrics.ttft.observe(0.3, times: 10)
                            metrics.ttft.observe(0.7, times: 10)
                        }
                    }
                }
                try await Task.sleep(for: .seconds(1))
            }
            // One more scrape, then read as of now, when the 5 s window covers the steady increase: every read sees
            // that window, however long a loaded machine takes over them.
            try await Task.sleep(for: .milliseconds(1100))
            let now = Date()

            for (engine, namespace) in engines {
                let scope = PodScope(namespace: namespace, pods: .names(["\(engine)-a", "\(engine)-b"]))
                func read(_ signal: ResolvedPolicy.Signal) async throws -> Double {
                    let query = try EnginePresets.query(for: signal, engine: engine, scope: scope)
                    return try await Self.value(client, query, at: now).get()
                }
                #expect(try await read(Self.signal(.queueDepth)) == 6, "\(engine)")
                #expect(try await read(Self.signal(.queueDepth, .value)) == 12, "\(engine)")
                #expect(try await read(Self.signal(.runningRequests)) == 15, "\(engine)")
                if engine != .tgi {
                    #expect(abs(try await read(Self.signal(.kvCacheUtilization)) - 0.5) < 1e-9, "\(engine)")
                }
                #expect(try await read(Self.signal(.gpuUtilization)) == 80, "\(engine)")
                // 100 tokens per second per pod (Prometheus extrapolates the window's ends).
                let throughput = try await read(Self.signal(.tokenThroughput))
                #expect(throughput > 60 && throughput < 140, "\(engine): \(throughput)")
                if engine != .tgi {
                    // Half the requests at 0.3 s (bucket 0.25–0.5), half at 0.7 s (0.5–0.75): the 95th percentile
                    // interpolates to 0.5 + 0.25 × (0.95 × 2 - 1) = 0.725.
                    let p95 = try await read(Self.signal(.timeToFirstToken, quantile: 0.95))
                    #expect(abs(p95 - 0.725) < 0.01, "\(engine): \(p95)")
                    let p50 = try await read(Self.signal(.timeToFirstToken, quantile: 0.5))
                    #expect(abs(p50 - 0.5) < 0.01, "\(engine): \(p50)")
                }
            }
        }
    }

    @Test func renamedAndRelabelledMetricsAreFound() async throws {
        try await Self.withPrometheus({ exporter in
            exporter.set(
                PodMetrics(namespace: "legacy", pod: "old-0", engine: .vllm, kvCacheUsage: 0.7, release: .previous)
            )
            exporter.set(
                PodMetrics(namespace: "dcgm", pod: "gpu-0", engine: .vllm, gpuUtilization: 55, dcgmExportedLabels: true)
            )
        }) { prometheus, _, client in
            try await prometheus.waitForSeries("DCGM_FI_DEV_GPU_UTIL")
            let legacy = try EnginePresets.query(
                for: Self.signal(.kvCacheUtilization), engine: .vllm,
                scope: .init(namespace: "legacy", pods: .names(["old-0"])))
            #expect(try await Self.value(client, legacy).get() == 0.7)
            let exported = try EnginePresets.query(
                for: Self.signal(.gpuUtilization), engine: .vllm,
                scope: .init(namespace: "dcgm", pods: .names(["gpu-0"])))
            #expect(try await Self.value(client, exported).get() == 55)
        }
    }

    @Test func aPolicyCannotReadAnotherNamespacesSeries() async throws {
        try await Self.withPrometheus({ exporter in
            exporter.set(PodMetrics(namespace: "a", pod: "vllm-0", engine: .vllm, waiting: 3))
            exporter.set(PodMetrics(namespace: "b", pod: "vllm-0", engine: .vllm, waiting: 1000))
            exporter.set(PodMetrics(namespace: "b", pod: "vllm-1", engine: .vllm, waiting: 2000))
        }) { prometheus, _, client in
            try await prometheus.waitForSeries("vllm:num_requests_waiting")
            let own = try EnginePresets.query(
                for: Self.signal(.queueDepth, .value), engine: .vllm,
                scope: .init(namespace: "a", pods: .names(["vllm-0"])))
            #expect(try await Self.value(client, own).get() == 3)
            // A target named to break out of its string, and one named like a regex that matches everything.
            for hostile in [#"vllm-0"} or vllm:num_requests_waiting{namespace="b"#, ".*", "vllm-.+"] {
                let query = try EnginePresets.query(
                    for: Self.signal(.queueDepth, .value), engine: .vllm,
                    scope: .init(namespace: "a", pods: .names([hostile])))
                let result = await Self.value(client, query)
                guard case .failure(let error) = result else {
                    Issue.record("hostile name \(hostile) read \(result)")
                    continue
                }
                #expect(error.code == .emptyResult, "\(hostile): \(error)")
            }
            let hostileNamespace = try EnginePresets.query(
                for: Self.signal(.queueDepth, .value), engine: .vllm,
                scope: .init(namespace: #"a"} or vllm:num_requests_waiting{namespace="b"#, pods: .deployment("vllm")))
            if case .success(let leaked) = await Self.value(client, hostileNamespace) {
                Issue.record("a hostile namespace read \(leaked)")
            }
        }
    }

    @Test func aStoppedPrometheusIsAnErrorNotZero() async throws {
        let exporter = try await FixtureExporter.start()
        let prometheus = try await PrometheusServer.start(scraping: [exporter.address])
        let client = PrometheusQueryClient(configuration: .init(address: prometheus.url, timeout: 2))
        prometheus.stop()
        try await exporter.stop()
        guard case .failure(let error) = await Self.value(client, "up") else {
            Issue.record("a stopped Prometheus gave a value")
            return
        }
        #expect(error.code == .connectionRefused)
    }

    @Test func aPrometheusThatDoesNotAnswerTimesOut() async throws {
        // A listener that accepts connections and never answers.
        let silent = try LoopbackSocket()
        silent.listenSilently()
        defer { silent.close() }
        let client = PrometheusQueryClient(
            configuration: .init(address: URL(string: "http://127.0.0.1:\(silent.port)")!, timeout: 0.5))
        let started = Date()
        guard case .failure(let error) = await Self.value(client, "up") else {
            Issue.record("a silent server gave a value")
            return
        }
        #expect(error.code == .timedOut)
        // The configured timeout (0.5 s, 1.5 s for the whole exchange) ended it: a request's 30 s default would not
        // have by now, and a loaded machine adds far less than the 18 s between.
        #expect(Date().timeIntervalSince(started) < 20)
    }

    @Test func aBadQueryIsPrometheusOwnError() async throws {
        try await Self.withPrometheus({ _ in }) { _, _, client in
            guard case .failure(let error) = await Self.value(client, "sum(") else {
                Issue.record("a bad query gave a value")
                return
            }
            #expect(error.code == .queryFailed)
            #expect(error.message.hasPrefix("Prometheus bad_data error:"))
            // Long queries go as a POST form and work the same.
            let long = "vector(1)" + String(repeating: " + vector(0)", count: 300)
            let summed = await Self.value(client, "sum(\(long))")
            #expect((try? summed.get()) == 1)
        }
    }
}

extension RealPrometheusTests {
    @Test func aQuantileOfNoRequestsIsZeroLatencyButNoSeriesIsMissing() async throws {
        try await Self.withPrometheus({ exporter in
            exporter.set(PodMetrics(namespace: "idle", pod: "vllm-0", engine: .vllm))
        }) { prometheus, _, client in
            try await prometheus.waitForSeries("vllm:time_to_first_token_seconds_count")
            try await Task.sleep(for: .seconds(2))
            let reader = SignalReader(client: client)
            let ttft = Self.signal(.timeToFirstToken)
            let idle = await reader.read(
                ttft, engine: .vllm, scope: .init(namespace: "idle", pods: .names(["vllm-0"])), at: Date())
            #expect(idle.sample == .value(0))
            let absent = await reader.read(
                ttft, engine: .vllm, scope: .init(namespace: "nowhere", pods: .names(["vllm-0"])), at: Date())
            #expect(absent.sample == .missing("the value is NaN") || absent.sample == .missing("no series matched"))
            let notExported = await reader.read(
                Self.signal(.kvCacheUtilization), engine: .tgi, scope: .init(namespace: "idle", pods: .names(["x"])),
                at: Date())
            #expect(notExported.sample == .missing("engine tgi exports no KV-cache gauge"))
        }
    }
}
