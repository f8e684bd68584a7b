import AutoscalerCore
import Foundation
import Testing

@testable import Signals

@Suite struct EnginePresetTests {
    static let scope = PodScope(namespace: "inference", pods: .names(["vllm-b", "vllm-a"]))
    static let selector = #"namespace="inference",pod=~"vllm-a|vllm-b""#

    static func query(_ type: SignalType, _ engine: Engine, targetType: TargetType = .averageValue) throws -> String {
        try EnginePresets.query(
            for: .init(type: type, target: 1, targetType: targetType, quantile: type == .timeToFirstToken ? 0.95 : nil),
            engine: engine, scope: scope)
    }

    @Test(arguments: [
        (SignalType.queueDepth, Engine.vllm, "avg(vllm:num_requests_waiting{SEL})"),
        (.queueDepth, .sglang, "avg(sglang:num_queue_reqs{SEL})"),
        (.queueDepth, .tgi, "avg(tgi_queue_size{SEL})"),
        (.queueDepth, .nim, "avg(num_requests_waiting{SEL}) or avg(vllm:num_requests_waiting{SEL})"),
        (.queueDepth, .trtllm, "avg(trtllm_num_requests_waiting{SEL})"),
        (.runningRequests, .vllm, "avg(vllm:num_requests_running{SEL})"),
        (.runningRequests, .sglang, "avg(sglang:num_running_reqs{SEL})"),
        (.runningRequests, .tgi, "avg(tgi_batch_current_size{SEL})"),
        (.runningRequests, .nim, "avg(num_requests_running{SEL}) or avg(vllm:num_requests_running{SEL})"),
        (.runningRequests, .trtllm, "avg(trtllm_num_requests_running{SEL})"),
        (.kvCacheUtilization, .vllm, "avg(vllm:kv_cache_usage_perc{SEL}) or avg(vllm:gpu_cache_usage_perc{SEL})"),
        (.kvCacheUtilization, .sglang, "avg(sglang:full_token_usage{SEL}) or avg(sglang:token_usage{SEL})"),
        (.kvCacheUtilization, .nim, "avg(gpu_cache_usage_perc{SEL}) or avg(vllm:kv_cache_usage_perc{SEL})"),
        (.kvCacheUtilization, .trtllm, "avg(trtllm_kv_cache_utilization{SEL})"),
        (
            .timeToFirstToken, .vllm,
            "histogram_quantile(0.95, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{SEL}[60s])))"
        ),
        (
            .timeToFirstToken, .sglang,
            "histogram_quantile(0.95, sum by (le) (rate(sglang:time_to_first_token_seconds_bucket{SEL}[60s])))"
        ),
        (
            .timeToFirstToken, .tgi,
            "histogram_quantile(0.95, sum by (le) (rate(tgi_request_queue_duration_bucket{SEL}[60s])))"
        ),
        (
            .timeToFirstToken, .nim,
            "histogram_quantile(0.95, sum by (le) (rate(time_to_first_token_seconds_bucket{SEL}[60s]))) or "
                + "histogram_quantile(0.95, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{SEL}[60s])))"
        ),
        (
            .timeToFirstToken, .trtllm,
            "histogram_quantile(0.95, sum by (le) (rate(trtllm_time_to_first_token_seconds_bucket{SEL}[60s]))) or "
                + "histogram_quantile(0.95, sum by (le) (rate(time_to_first_token_seconds_bucket{SEL}[60s])))"
        ),
        (.tokenThroughput, .vllm, "avg(rate(vllm:generation_tokens_total{SEL}[60s]))"),
        (.tokenThroughput, .tgi, "avg(rate(tgi_request_generated_tokens_sum{SEL}[60s]))"),
        (
            .gpuUtilization, .vllm,
            #"avg(DCGM_FI_DEV_GPU_UTIL{SEL}) or avg(DCGM_FI_DEV_GPU_UTIL{exported_namespace="inference",exported_pod=~"vllm-a|vllm-b"})"#
        ),
    ])
    func presets(_ type: SignalType, _ engine: Engine, _ expected: String) throws {
        #expect(try Self.query(type, engine) == expected.replacingOccurrences(of: "SEL", with: Self.selector))
    }

    @Test func fleetTotalsSum() throws {
        #expect(
            try Self.query(.queueDepth, .vllm, targetType: .value) == "sum(vllm:num_requests_waiting{\(Self.selector)})"
        )
    }

    @Test func customQueriesAreTakenAsWritten() throws {
        let signal = ResolvedPolicy.Signal(type: .custom, target: 1, query: #"sum(x{a="b"})"#)
        #expect(try EnginePresets.query(for: signal, engine: .custom, scope: Self.scope) == #"sum(x{a="b"})"#)
    }

    @Test func gatewaySignalsReadTheEndpointPickersPoolInTheNamespaceWithoutAPodMatcher() throws {
        let queue = ResolvedPolicy.Signal(type: .gatewayQueueDepth, target: 4, targetType: .value, pool: "llama")
        #expect(
            try EnginePresets.query(for: queue, engine: .vllm, scope: Self.scope)
                == #"sum(llm_d_epp_flow_control_queue_size{namespace="inference",inference_pool="llama"}) or "#
                + #"sum(inference_extension_flow_control_queue_size{namespace="inference",inference_pool="llama"})"#)
        let saturation = ResolvedPolicy.Signal(type: .gatewaySaturation, target: 0.8, pool: #"x"} or up{"#)
        #expect(
            try EnginePresets.query(for: saturation, engine: .custom, scope: Self.scope)
                .hasPrefix(
                    #"max(llm_d_epp_flow_control_pool_saturation{namespace="inference",inference_pool="x\"} or up{"})"#)
        )
        let running = ResolvedPolicy.Signal(type: .gatewayRunningRequests, target: 8, pool: "llama")
        #expect(
            try EnginePresets.query(for: running, engine: .sglang, scope: Self.scope)
                .hasPrefix(#"avg(llm_d_epp_average_running_requests{namespace="inference",name="llama"})"#))
        // Read per policy, never from the namespace's per-pod batch.
        #expect(EnginePresets.namespaceQuery(for: queue, names: EnginePresets.names(for: .vllm), namespace: "x") == nil)
    }

    @Test func tgiHasNoKVCacheMetric() {
        #expect(throws: EnginePresets.PresetError.notExported("engine tgi exports no KV-cache gauge")) {
            try Self.query(.kvCacheUtilization, .tgi)
        }
    }

    @Test func discoveredNamesNarrowTheQueryAndAnAbsentRoleSaysWhatWasLookedFor() throws {
        let all = EnginePresets.names(for: .vllm)
        // A fleet that exports the old KV name only, and no queue gauge at all.
        let exported: Set = ["vllm:gpu_cache_usage_perc", "vllm:time_to_first_token_seconds_count"]
        let names = all.restricted(to: exported, in: "inference")
        #expect(names[.kvCache] == ["vllm:gpu_cache_usage_perc"])
        #expect(names[.timeToFirstToken] == ["vllm:time_to_first_token_seconds"])
        let kv = ResolvedPolicy.Signal(type: .kvCacheUtilization, target: 0.8)
        #expect(
            try EnginePresets.query(for: kv, names: names, scope: Self.scope)
                == "avg(vllm:gpu_cache_usage_perc{\(Self.selector)})")
        let queue = ResolvedPolicy.Signal(type: .queueDepth, target: 5)
        #expect(
            throws: EnginePresets.PresetError.notExported(
                "no waiting requests of engine vllm is exported in namespace inference (looked for "
                    + "vllm:num_requests_waiting)")
        ) { try EnginePresets.query(for: queue, names: names, scope: Self.scope) }
        #expect(EnginePresets.namespaceQuery(for: queue, names: names, namespace: "inference") == nil)
        // Every name the engine ever used is looked for, histograms by their _count series.
        #expect(all.lookedFor.contains("vllm:inter_token_latency_seconds_count"))
        #expect(all.lookedFor.contains("vllm:time_per_output_token_seconds_count"))
        let discovery = try #require(EnginePresets.discoveryQuery(all, namespace: "inference"))
        #expect(discovery.hasPrefix(#"group by (__name__) ({__name__=~""#))
        #expect(discovery.hasSuffix(#",namespace="inference"})"#))
        // Engine custom has only the gateway's names to look for.
        let custom = try #require(EnginePresets.discoveryQuery(EnginePresets.names(for: .custom), namespace: "x"))
        #expect(custom.contains("llm_d_epp_flow_control_queue_size") && !custom.contains("vllm"))
    }

    @Test func hostileNamesCannotLeaveTheirStringOrWidenTheMatch() throws {
        let hostile = PodScope(namespace: #"a"} or vector(1) or x{y=""#, pods: .names([#"p.*|"} or up{"#]))
        let query = try EnginePresets.query(for: .init(type: .queueDepth, target: 1), engine: .vllm, scope: hostile)
        #expect(
            query
                == #"avg(vllm:num_requests_waiting{namespace="a\"} or vector(1) or x{y=\"",pod=~"p\\.\\*\\|\"\\} or up\\{"})"#
        )
    }

    @Test func noPodsMatchesNothingRatherThanEverything() {
        let empty = PodScope(namespace: "inference", pods: .names([]))
        #expect(empty.matchers() == #"namespace="inference",pod=~"$^""#)
    }

    @Test func deploymentAndStatefulSetPodPatterns() {
        #expect(
            PodScope(namespace: "n", pods: .deployment("vllm.x")).podPattern == #"vllm\.x-[a-z0-9]{1,10}-[a-z0-9]{5}"#)
        #expect(PodScope(namespace: "n", pods: .statefulSet("nim")).podPattern == "nim-[0-9]+")
    }

    @Test func theRequestRateAccompaniesTTFT() {
        let ttft = ResolvedPolicy.Signal(type: .timeToFirstToken, target: 0.5, quantile: 0.9, window: 120)
        #expect(
            EnginePresets.requestRate(for: ttft, names: EnginePresets.names(for: .vllm), scope: Self.scope)
                == "sum(rate(vllm:time_to_first_token_seconds_count{\(Self.selector)}[120s]))")
        #expect(
            EnginePresets.requestRate(
                for: .init(type: .queueDepth, target: 5), names: EnginePresets.names(for: .vllm), scope: Self.scope)
                == nil
        )
    }
}
