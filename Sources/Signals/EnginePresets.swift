import AutoscalerCore
import Foundation

/// The PromQL behind each signal type, per serving engine (DESIGN §6), scoped to the policy's namespace and the
/// target's pods. `Custom` signals are the user's query as written.
public enum EnginePresets {
    /// Metric names as each engine exports them today.
    public struct MetricNames: Sendable, Equatable {
        public var waiting: String
        public var running: String
        /// KV-cache use 0–1, newest name first; older names are fallbacks (`or`).
        public var kvCache: [String]
        /// The TTFT histogram's base name (without `_bucket`).
        public var timeToFirstToken: String?
        /// A counter of generated tokens.
        public var generatedTokens: String
        /// TGI exports generated tokens as a histogram of per-request counts: its `_sum` is the counter.
        public var generatedTokensIsHistogram: Bool
    }

    public static func names(for engine: Engine) -> MetricNames? {
        switch engine {
        case .vllm:
            MetricNames(
                waiting: "vllm:num_requests_waiting", running: "vllm:num_requests_running",
                // vLLM >= 0.9.2 renamed the KV gauge; the old name was removed in 0.12.
                kvCache: ["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"],
                timeToFirstToken: "vllm:time_to_first_token_seconds", generatedTokens: "vllm:generation_tokens_total",
                generatedTokensIsHistogram: false)
        case .sglang:
            MetricNames(
                waiting: "sglang:num_queue_reqs", running: "sglang:num_running_reqs", kvCache: ["sglang:token_usage"],
                timeToFirstToken: "sglang:time_to_first_token_seconds",
                generatedTokens: "sglang:generation_tokens_total", generatedTokensIsHistogram: false)
        case .tgi:
            // TGI has no TTFT histogram: the time a request waits in the queue is the nearest measure.
            MetricNames(
                waiting: "tgi_queue_size", running: "tgi_batch_current_size", kvCache: [],
                timeToFirstToken: "tgi_request_queue_duration", generatedTokens: "tgi_request_generated_tokens",
                generatedTokensIsHistogram: true)
        case .nim:
            MetricNames(
                waiting: "num_requests_waiting", running: "num_requests_running", kvCache: ["gpu_cache_usage_perc"],
                timeToFirstToken: "time_to_first_token_seconds", generatedTokens: "generation_tokens_total",
                generatedTokensIsHistogram: false)
        case .custom:
            nil
        }
    }

    /// What the objective planner reads, per engine: a prompt-token counter (TGI: a per-request histogram whose
    /// `_sum` counts), the queue-time histogram (the part of TTFT more replicas remove) and the inter-token latency
    /// histogram, newest name first.
    public struct PlannerNames: Sendable, Equatable {
        public var promptTokens: String?
        public var queueTime: String?
        public var interTokenLatency: [String]
    }

    public static func plannerNames(for engine: Engine) -> PlannerNames {
        switch engine {
        case .vllm:
            // vLLM renamed `time_per_output_token_seconds` to `inter_token_latency_seconds`.
            PlannerNames(
                promptTokens: "vllm:prompt_tokens_total", queueTime: "vllm:request_queue_time_seconds",
                interTokenLatency: ["vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"])
        case .sglang:
            PlannerNames(
                promptTokens: "sglang:prompt_tokens_total", queueTime: nil,
                interTokenLatency: ["sglang:inter_token_latency_seconds", "sglang:time_per_output_token_seconds"])
        case .tgi:
            PlannerNames(
                promptTokens: "tgi_request_input_length_sum", queueTime: "tgi_request_queue_duration",
                interTokenLatency: ["tgi_request_mean_time_per_token_duration"])
        case .nim:
            PlannerNames(
                promptTokens: "prompt_tokens_total", queueTime: nil,
                interTokenLatency: ["time_per_output_token_seconds"])
        case .custom:
            PlannerNames(promptTokens: nil, queueTime: nil, interTokenLatency: [])
        }
    }

    /// The planner's queries for one policy, each one fleet-wide number over `window` seconds (nil: the engine
    /// exports no such metric).
    public struct PlannerQueries: Sendable, Equatable {
        /// Per pod (`sum by (pod)`): a ready pod without a series is seen, not summed away.
        public var requestRate: String?
        public var promptTokenRate: String?
        public var generatedTokenRate: String?
        public var queueTime: String?
        public var timeToFirstToken: String?
        public var interTokenLatency: String?
        public var kvCacheUsage: String?
        /// The TTFT histogram's buckets, summed by `le`: the share of first tokens within the target.
        public var ttftBuckets: String?
    }

    public static func plannerQueries(
        objective: ResolvedPolicy.Objective, engine: Engine, scope: PodScope, window: Double = PolicyDefaults.rateWindow
    ) -> PlannerQueries {
        guard let names = names(for: engine) else { return PlannerQueries() }
        let planner = plannerNames(for: engine)
        let selector = scope.matchers()
        let range = "[\(Int(window.rounded()))s]"
        func rate(_ counter: String) -> String { "sum(rate(\(counter){\(selector)}\(range)))" }
        func quantile(_ q: Double, _ histogram: String) -> String {
            "histogram_quantile(\(q), sum by (le) (rate(\(histogram)_bucket{\(selector)}\(range))))"
        }
        let q = objective.timeToFirstToken.quantile
        let generated = names.generatedTokensIsHistogram ? "\(names.generatedTokens)_sum" : names.generatedTokens
        return PlannerQueries(
            requestRate: names.timeToFirstToken.map { "sum by (pod) (rate(\($0)_count{\(selector)}\(range)))" },
            promptTokenRate: planner.promptTokens.map(rate), generatedTokenRate: rate(generated),
            queueTime: planner.queueTime.map { quantile(q, $0) },
            timeToFirstToken: names.timeToFirstToken.map { quantile(q, $0) },
            interTokenLatency: objective.interTokenLatency.flatMap { itl in
                planner.interTokenLatency.isEmpty
                    ? nil : planner.interTokenLatency.map { quantile(itl.quantile, $0) }.joined(separator: " or ")
            },
            kvCacheUsage: names.kvCache.isEmpty
                ? nil : names.kvCache.map { "avg(\($0){\(selector)})" }.joined(separator: " or "),
            ttftBuckets: names.timeToFirstToken.map { "sum by (le) (rate(\($0)_bucket{\(selector)}\(range)))" })
    }

    /// DCGM exporter's GPU utilization (%), matched under both label spellings: the Helm chart's ServiceMonitor
    /// (`honorLabels: false`) renames `pod`/`namespace` to `exported_pod`/`exported_namespace`.
    public static let gpuUtilization = "DCGM_FI_DEV_GPU_UTIL"

    public enum PresetError: Error, Equatable, CustomStringConvertible {
        case notExported(SignalType, Engine)

        public var description: String {
            switch self {
            case .notExported(let type, let engine): "engine \(engine.rawValue) exports no metric for \(type.rawValue)"
            }
        }
    }

    /// The query for one signal. Its result is one number: a per-replica average for `AverageValue`, a fleet total
    /// for `Value` (as the decision expects).
    public static func query(
        for signal: ResolvedPolicy.Signal, engine: Engine, scope: PodScope
    ) throws(PresetError) -> String {
        if signal.type == .custom { return signal.query ?? "" }
        let aggregate = signal.targetType == .value ? "sum" : "avg"
        let selector = scope.matchers()
        if signal.type == .gpuUtilization {
            let direct = "\(gpuUtilization){\(selector)}"
            let exported = "\(gpuUtilization){\(scope.matchers(prefix: "exported_"))}"
            return "\(aggregate)(\(direct)) or \(aggregate)(\(exported))"
        }
        guard let names = names(for: engine) else { throw .notExported(signal.type, engine) }
        let window = "\(Int((signal.window ?? PolicyDefaults.rateWindow).rounded()))s"
        switch signal.type {
        case .queueDepth:
            return "\(aggregate)(\(names.waiting){\(selector)})"
        case .runningRequests:
            return "\(aggregate)(\(names.running){\(selector)})"
        case .kvCacheUtilization:
            guard !names.kvCache.isEmpty else { throw .notExported(signal.type, engine) }
            return names.kvCache.map { "\(aggregate)(\($0){\(selector)})" }.joined(separator: " or ")
        case .timeToFirstToken:
            guard let histogram = names.timeToFirstToken else { throw .notExported(signal.type, engine) }
            let quantile = signal.quantile ?? PolicyDefaults.quantile
            return "histogram_quantile(\(quantile), sum by (le) (rate(\(histogram)_bucket{\(selector)}[\(window)])))"
        case .tokenThroughput:
            let counter = names.generatedTokensIsHistogram ? "\(names.generatedTokens)_sum" : names.generatedTokens
            return "\(aggregate)(rate(\(counter){\(selector)}[\(window)]))"
        case .gpuUtilization, .custom:
            return ""
        }
    }

    /// One query for a whole namespace, `by (namespace, pod)`, that serves every policy there with this signal: each
    /// takes only its own pods' values and aggregates them as `query(for:engine:scope:)` would (an average over the
    /// pods, or their sum for `Value`; for TTFT, per-pod bucket rates that each policy merges over its own pods before
    /// taking the quantile). Nil for signals read per policy: `Custom` queries and DCGM's GPU utilization.
    ///
    /// With `staleAfter`, a series whose last sample is older than that many seconds at the query's evaluation time
    /// is left out (`and timestamp(...) > time() - staleAfter`): an instant query otherwise returns a pod's last value
    /// for up to five minutes after it stopped reporting.
    public static func namespaceQuery(
        for signal: ResolvedPolicy.Signal, engine: Engine, namespace: String, staleAfter: Double? = nil
    ) -> String? {
        guard let names = names(for: engine) else { return nil }
        let selector = PodScope.namespaceMatcher(namespace)
        let window = "\(Int((signal.window ?? PolicyDefaults.rateWindow).rounded()))s"
        /// `expression` (of `series`) limited to series with a recent sample.
        func fresh(_ expression: String, of series: String) -> String {
            guard let staleAfter else { return expression }
            return "\(expression) and timestamp(\(series)) > time() - \(Int(staleAfter.rounded(.up)))"
        }
        func gauge(_ metric: String) -> String {
            "sum by (namespace, pod) (\(fresh("\(metric){\(selector)}", of: "\(metric){\(selector)}")))"
        }
        switch signal.type {
        case .queueDepth: return gauge(names.waiting)
        case .runningRequests: return gauge(names.running)
        case .kvCacheUtilization:
            guard !names.kvCache.isEmpty else { return nil }
            return names.kvCache.map(gauge).joined(separator: " or ")
        case .tokenThroughput:
            let counter = names.generatedTokensIsHistogram ? "\(names.generatedTokens)_sum" : names.generatedTokens
            let series = "\(counter){\(selector)}"
            return "sum by (namespace, pod) (\(fresh("rate(\(series)[\(window)])", of: series)))"
        case .timeToFirstToken:
            guard let histogram = names.timeToFirstToken else { return nil }
            let series = "\(histogram)_bucket{\(selector)}"
            return "sum by (namespace, pod, le) (\(fresh("rate(\(series)[\(window)])", of: series)))"
        case .gpuUtilization, .custom:
            return nil
        }
    }

    /// Requests each pod is running, `by (pod)`: how much work a scale-down would cut off on each. Nil for engines
    /// without the gauge.
    public static func runningByPod(engine: Engine, scope: PodScope) -> String? {
        guard let names = names(for: engine) else { return nil }
        return "sum by (pod) (\(names.running){\(scope.matchers())})"
    }

    /// For TTFT: the request rate over the same window. A quantile of no requests is NaN; when this is 0 the fleet
    /// served nothing, so there was no latency to miss (0), which is not the same as a missing metric.
    public static func requestRate(for signal: ResolvedPolicy.Signal, engine: Engine, scope: PodScope) -> String? {
        guard signal.type == .timeToFirstToken, let histogram = names(for: engine)?.timeToFirstToken else { return nil }
        let window = "\(Int((signal.window ?? PolicyDefaults.rateWindow).rounded()))s"
        return "sum(rate(\(histogram)_count{\(scope.matchers())}[\(window)]))"
    }
}
