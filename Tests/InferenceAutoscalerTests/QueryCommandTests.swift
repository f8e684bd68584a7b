import Foundation
import MetricsFixture
import PrometheusTestSupport
import Testing

/// `inference-autoscaler query` against a real Prometheus scraping the fixture exporter.
@Suite(.timeLimit(.minutes(2))) struct QueryCommandTests {
    @Test func printsEachSignalsQueryAndValueOrError() async throws {
        let exporter = try await FixtureExporter.start()
        exporter.set(
            PodMetrics(namespace: "inference", pod: "vllm-llama3-7d9c5b6f4-x2k9q", waiting: 6, kvCacheUsage: 0.5))
        exporter.set(
            PodMetrics(namespace: "inference", pod: "vllm-llama3-7d9c5b6f4-p8m3z", waiting: 2, kvCacheUsage: 0.7))
        // Same namespace, another workload: not the target's pods.
        exporter.set(PodMetrics(namespace: "inference", pod: "vllm-other-5c8d7f9b6-aaaaa", waiting: 500))
        let prometheus = try await PrometheusServer.start(scraping: [exporter.address])
        defer { prometheus.stop() }
        try await prometheus.waitForSeries("vllm:num_requests_waiting")

        let policy = FileManager.default.temporaryDirectory.appendingPathComponent("query-\(UUID().uuidString).yaml")
        try """
        apiVersion: autoscaling.inference.dev/v1alpha1
        kind: InferenceAutoscalePolicy
        metadata: {name: llama3-8b, namespace: inference}
        spec:
          targetRef: {apiVersion: apps/v1, kind: Deployment, name: vllm-llama3}
          maxReplicas: 8
          signals:
            - {type: QueueDepth, target: 5}
            - {type: KVCacheUtilization, target: 0.85}
            - {type: Custom, query: 'sum(nonexistent_metric{namespace="inference"})', target: 1, targetType: Value}
        """.write(to: policy, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: policy) }

        let run = try CommandLineTests.run([
            "query", "--policy", policy.path, "--prometheus", prometheus.url.absoluteString,
        ])
        try await exporter.stop()
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.contains("QueueDepth (target 5):"))
        #expect(
            lines.contains(
                #"query: avg(vllm:num_requests_waiting{namespace="inference",pod=~"vllm-llama3-[a-z0-9]{1,10}-[a-z0-9]{5}"})"#
            ))
        #expect(lines.contains("value: 4"))
        #expect(lines.contains("value: 0.6"))
        #expect(lines.contains("error: no series matched"))
        // What was detected: today's KV name only, so the query reads it alone.
        #expect(lines.contains("metric names of engine vllm exported in namespace inference:"))
        #expect(lines.contains("KV-cache gauge: vllm:kv_cache_usage_perc"))
        #expect(lines.contains("waiting requests: vllm:num_requests_waiting"))
        #expect(lines.contains("queue-time histogram: none (looked for vllm:request_queue_time_seconds)"))
        #expect(
            lines.contains(
                #"query: avg(vllm:kv_cache_usage_perc{namespace="inference",pod=~"vllm-llama3-[a-z0-9]{1,10}-[a-z0-9]{5}"})"#
            ))
    }

    /// An SGLang fleet on a hybrid model behind an endpoint picker: `query` prints the names it found, the attention
    /// KV cache rather than `token_usage`, and the queue the picker holds for the pool.
    @Test func printsTheNamesFoundForSGLangAndTheGateway() async throws {
        let exporter = try await FixtureExporter.start()
        for (index, pod) in ["sglang-qwen-6f7d8c9b5-a1b2c", "sglang-qwen-6f7d8c9b5-d3e4f"].enumerated() {
            exporter.set(
                PodMetrics(
                    namespace: "sg", pod: pod, engine: .sglang, waiting: 3, kvCacheUsage: 0.3 + Double(index) * 0.2,
                    hybridTokenUsage: 0.9))
        }
        let picker = try await LoopbackHTTPServer.start { _ in
            .init(
                status: 200, contentType: "text/plain; version=0.0.4",
                body: """
                    # TYPE llm_d_epp_flow_control_queue_size gauge
                    llm_d_epp_flow_control_queue_size{namespace="sg",pod="epp-0",inference_pool="qwen",priority="0"} 7

                    """)
        }
        let prometheus = try await PrometheusServer.start(scraping: [exporter.address, picker.address])
        defer { prometheus.stop() }
        try await prometheus.waitForSeries("llm_d_epp_flow_control_queue_size")
        try await prometheus.waitForSeries("sglang:full_token_usage")

        let policy = FileManager.default.temporaryDirectory.appendingPathComponent("query-\(UUID().uuidString).yaml")
        try """
        apiVersion: autoscaling.inference.dev/v1alpha1
        kind: InferenceAutoscalePolicy
        metadata: {name: qwen, namespace: sg}
        spec:
          targetRef: {apiVersion: apps/v1, kind: Deployment, name: sglang-qwen}
          engine: sglang
          minReplicas: 0
          maxReplicas: 8
          signals:
            - {type: KVCacheUtilization, target: 0.85}
            - {type: GatewayQueueDepth, pool: qwen, target: 4, targetType: Value}
        """.write(to: policy, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: policy) }

        let run = try CommandLineTests.run([
            "query", "--policy", policy.path, "--prometheus", prometheus.url.absoluteString,
        ])
        try await exporter.stop()
        await picker.stop()
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.contains("metric names of engine sglang exported in namespace sg:"), "\(run.stdout)")
        #expect(lines.contains("KV-cache gauge: sglang:full_token_usage, sglang:token_usage"))
        #expect(lines.contains("waiting requests: sglang:num_queue_reqs"))
        #expect(lines.contains("gateway flow-control queue: llm_d_epp_flow_control_queue_size"))
        #expect(lines.contains("value: 0.4"))
        #expect(lines.contains("value: 7"))
    }
}
