import AutoscalerCore
import Foundation
import MetricsFixture
import PrometheusTestSupport
import Testing

@testable import Signals

/// Each engine's current and previous metric names, exported by fixture pods and found by discovery in a real
/// Prometheus; a pod exporting none of them makes the signal missing with the names looked for, never 0.
extension RealPrometheusTests {
    struct Fleet: Sendable {
        var engine: Engine
        var release: PodMetrics.Release
        var namespace: String
        var hybrid = false
    }

    static let fleets: [Fleet] = [
        .init(engine: .vllm, release: .current, namespace: "vllm-new"),
        .init(engine: .vllm, release: .previous, namespace: "vllm-old"),
        .init(engine: .sglang, release: .current, namespace: "sglang-hybrid", hybrid: true),
        .init(engine: .sglang, release: .previous, namespace: "sglang-old"),
        .init(engine: .trtllm, release: .current, namespace: "trt-new"),
        .init(engine: .trtllm, release: .previous, namespace: "trt-old"),
        .init(engine: .tgi, release: .current, namespace: "tgi"),
        .init(engine: .nim, release: .current, namespace: "nim"),
    ]

    @Test func everyEnginesCurrentAndPreviousNamesAreFoundAndRead() async throws {
        try await Self.withPrometheus({ exporter in
            for fleet in Self.fleets {
                for (index, pod) in ["a", "b"].enumerated() {
                    exporter.set(
                        PodMetrics(
                            namespace: fleet.namespace, pod: pod, engine: fleet.engine, waiting: Double(2 + index * 4),
                            running: 10, kvCacheUsage: 0.3 + Double(index) * 0.2, release: fleet.release,
                            hybridTokenUsage: fleet.hybrid ? 0.95 : nil))
                }
            }
            // A pod of a vLLM policy that exports nothing vLLM does (only its GPU's series).
            exporter.set(PodMetrics(namespace: "silent", pod: "a", engine: .custom, gpuUtilization: 40))
        }) { prometheus, exporter, client in
            try await prometheus.waitForSeries("tgi_queue_size")
            try await prometheus.waitForSeries("DCGM_FI_DEV_GPU_UTIL")
            for _ in 0..<6 {
                for fleet in Self.fleets {
                    for pod in ["a", "b"] {
                        exporter.update(namespace: fleet.namespace, pod: pod) { metrics in
                            metrics.ttft.observe(0.3, times: 10)
                            metrics.ttft.observe(0.7, times: 10)
                            metrics.interTokenLatency.observe(0.03, times: 50)
                        }
                    }
                }
                try await Task.sleep(for: .seconds(1))
            }
            // One more scrape, then read as of now, when the 5 s window covers the histograms' increase: every read
            // sees that window, however long a loaded machine takes over them.
            try await Task.sleep(for: .milliseconds(1100))
            let now = Date()

            let reader = SignalReader(client: client, discovery: .init(cache: MetricDiscovery(), key: "test"))
            for fleet in Self.fleets {
                let label = "\(fleet.engine) \(fleet.release)"
                let scope = PodScope(namespace: fleet.namespace, pods: .names(["a", "b"]))
                func read(_ signal: ResolvedPolicy.Signal) async -> SignalSample {
                    await reader.read(signal, engine: fleet.engine, scope: scope, at: now).sample
                }
                let names = try await reader.names(
                    engine: fleet.engine, namespace: fleet.namespace, roles: MetricRole.allCases, at: now
                ).get()
                // Old trtllm-serve had no queue gauge: the signal says so, and what it looked for.
                if fleet.engine == .trtllm, fleet.release == .previous {
                    #expect(
                        await read(Self.signal(.queueDepth))
                            == .missing(
                                "no waiting requests of engine trtllm is exported in namespace trt-old (looked for "
                                    + "trtllm_num_requests_waiting)"))
                    #expect(names[.timeToFirstToken] == ["time_to_first_token_seconds"])
                    #expect(names[.interTokenLatency] == ["time_per_output_token_seconds"])
                } else {
                    #expect(await read(Self.signal(.queueDepth)) == .value(4), "\(label)")
                    #expect(await read(Self.signal(.queueDepth, .value)) == .value(8), "\(label)")
                    #expect(await read(Self.signal(.runningRequests)) == .value(10), "\(label)")
                }
                if fleet.engine != .tgi, !(fleet.engine == .trtllm && fleet.release == .previous) {
                    // SGLang on a hybrid model: the attention KV cache, not token_usage with the Mamba state in it.
                    guard case .value(let kv) = await read(Self.signal(.kvCacheUtilization)) else {
                        Issue.record("\(label): no KV-cache value")
                        continue
                    }
                    #expect(abs(kv - 0.4) < 1e-9, "\(label): \(kv)")
                }
                guard case .value(let p95) = await read(Self.signal(.timeToFirstToken, quantile: 0.95)) else {
                    Issue.record("\(label): no TTFT")
                    continue
                }
                if fleet.engine != .tgi { #expect(abs(p95 - 0.725) < 0.01, "\(label): \(p95)") }
                // The planner's inter-token latency comes from whichever name the release exports.
                let itl = names[.interTokenLatency]
                switch (fleet.engine, fleet.release) {
                case (.vllm, .current): #expect(itl == ["vllm:inter_token_latency_seconds"])
                case (.vllm, .previous): #expect(itl == ["vllm:time_per_output_token_seconds"])
                case (.sglang, .current): #expect(itl == ["sglang:inter_token_latency_seconds"])
                case (.sglang, .previous): #expect(itl == ["sglang:time_per_output_token_seconds"])
                case (.trtllm, .current): #expect(itl == ["trtllm_time_per_output_token_seconds"])
                default: break
                }
                if fleet.engine == .vllm {
                    #expect(
                        names[.kvCache]
                            == [fleet.release == .current ? "vllm:kv_cache_usage_perc" : "vllm:gpu_cache_usage_perc"])
                }
            }

            // Neither name exported: missing, naming what was looked for, in the batched path too.
            let silent = PodScope(namespace: "silent", pods: .names(["a"]))
            let unbatched = await reader.read(Self.signal(.queueDepth), engine: .vllm, scope: silent, at: Date())
            #expect(
                unbatched.sample
                    == .missing(
                        "no waiting requests of engine vllm is exported in namespace silent (looked for "
                            + "vllm:num_requests_waiting)"))
            var batching = reader
            batching.batching = .init(batches: NamespaceBatches(), key: "test", maxAge: 5)
            let batched = await batching.read(
                Self.signal(.kvCacheUtilization), engine: .vllm, scope: silent, ready: ["a"], at: Date())
            #expect(
                batched.sample
                    == .missing(
                        "no KV-cache gauge of engine vllm is exported in namespace silent (looked for "
                            + "vllm:kv_cache_usage_perc, vllm:gpu_cache_usage_perc)"))
            #expect(
                await batching.read(Self.signal(.gpuUtilization), engine: .vllm, scope: silent, at: Date()).sample
                    == .value(40))
        }
    }
}
