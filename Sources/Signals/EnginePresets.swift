import AutoscalerCore
import Foundation

/// What a metric is for, across engines: each engine names it differently, and renames it between releases.
public enum MetricRole: String, Sendable, CaseIterable, Comparable {
    case waiting, running, kvCache, timeToFirstToken, interTokenLatency, queueTime, promptTokens, generatedTokens
    /// The inference gateway's endpoint picker, per InferencePool.
    case gatewayQueue, gatewaySaturation, gatewayRunning

    /// The label that names the InferencePool on the endpoint picker's series (nil: a model server's metric).
    public var poolLabel: String? {
        switch self {
        case .gatewayQueue, .gatewaySaturation: "inference_pool"
        case .gatewayRunning: "name"
        default: nil
        }
    }

    /// Histograms are looked for by their `_count` series and read through `_bucket`/`_count`.
    public var isHistogram: Bool {
        switch self {
        case .timeToFirstToken, .interTokenLatency, .queueTime: true
        default: false
        }
    }

    /// What `query` and status call it.
    public var label: String {
        switch self {
        case .waiting: "waiting requests"
        case .running: "running requests"
        case .kvCache: "KV-cache gauge"
        case .timeToFirstToken: "TTFT histogram"
        case .interTokenLatency: "inter-token latency histogram"
        case .queueTime: "queue-time histogram"
        case .promptTokens: "prompt-token counter"
        case .generatedTokens: "generated-token counter"
        case .gatewayQueue: "gateway flow-control queue"
        case .gatewaySaturation: "gateway pool saturation"
        case .gatewayRunning: "gateway pool running requests"
        }
    }

    public static func < (lhs: MetricRole, rhs: MetricRole) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// An engine's metric names per role, newest first: every name it has used (what discovery looks for), and the ones
/// in use. Until discovery narrows them, every name is in use and queries join them with `or` (per series, the newer
/// name wins), so a fleet halfway through an upgrade is read on both.
public struct MetricNames: Sendable, Equatable {
    public let engine: Engine
    /// Every name the engine has used for each role, newest first.
    public let candidates: [MetricRole: [String]]
    /// The names in use, newest first.
    public private(set) var inUse: [MetricRole: [String]]
    /// Where discovery looked (a namespace), or nil when the names were not narrowed to what Prometheus holds.
    public private(set) var detectedIn: String?

    public init(engine: Engine, candidates: [MetricRole: [String]]) {
        self.engine = engine
        self.candidates = candidates.filter { !$0.value.isEmpty }
        self.inUse = self.candidates
    }

    public subscript(role: MetricRole) -> [String] { inUse[role] ?? [] }

    /// The series that shows a name is exported: a histogram's `_count`, any other metric itself.
    public static func series(_ name: String, role: MetricRole) -> String {
        role.isHistogram ? name + "_count" : name
    }

    /// Every series discovery looks for.
    public var lookedFor: [String] {
        candidates.sorted { $0.key < $1.key }.flatMap { role, names in names.map { Self.series($0, role: role) } }
    }

    /// Narrowed to the names whose series Prometheus holds in `namespace`.
    public func restricted(to exported: Set<String>, in namespace: String) -> MetricNames {
        var narrowed = self
        narrowed.inUse = [:]
        for (role, names) in candidates {
            let kept = names.filter { exported.contains(Self.series($0, role: role)) }
            if !kept.isEmpty { narrowed.inUse[role] = kept }
        }
        narrowed.detectedIn = namespace
        return narrowed
    }

    /// Why a role cannot be read: the engine never had it, or none of its names is exported.
    public func absence(_ role: MetricRole) -> String {
        guard let names = candidates[role] else { return "engine \(engine.rawValue) exports no \(role.label)" }
        let where_ = detectedIn.map { " in namespace \($0)" } ?? ""
        let whose = role.poolLabel == nil ? " of engine \(engine.rawValue)" : ""
        return "no \(role.label)\(whose) is exported\(where_) (looked for "
            + names.map { Self.series($0, role: role) }.joined(separator: ", ") + ")"
    }
}

/// The PromQL behind each signal type, per serving engine (DESIGN §6), scoped to the policy's namespace and the
/// target's pods. `Custom` signals are the user's query as written.
public enum EnginePresets {
    /// Every name each engine has exported for each role, newest first. vLLM renamed its KV gauge in 0.9.2 (the old
    /// name was removed in 0.12) and `time_per_output_token_seconds` to `inter_token_latency_seconds`; SGLang's
    /// `token_usage` also counts Mamba state on hybrid models, where `full_token_usage` is the attention KV cache;
    /// trtllm-serve exported five unprefixed metrics before its `trtllm_` names; NIM 2 serves through vLLM.
    public static func names(for engine: Engine) -> MetricNames {
        MetricNames(engine: engine, candidates: engineNames(engine).merging(gatewayNames) { own, _ in own })
    }

    /// The endpoint picker's metrics, whatever engine serves behind it: the Gateway API Inference Extension's names
    /// (flow control from v1.1, with the `inference_pool` label from v1.5) and llm-d-router's `llm_d_epp_*` (v0.9).
    static let gatewayNames: [MetricRole: [String]] = [
        .gatewayQueue: ["llm_d_epp_flow_control_queue_size", "inference_extension_flow_control_queue_size"],
        .gatewaySaturation: [
            "llm_d_epp_flow_control_pool_saturation", "inference_extension_flow_control_pool_saturation",
        ],
        .gatewayRunning: ["llm_d_epp_average_running_requests", "inference_pool_average_running_requests"],
    ]

    private static func engineNames(_ engine: Engine) -> [MetricRole: [String]] {
        switch engine {
        case .vllm:
            [
                .waiting: ["vllm:num_requests_waiting"], .running: ["vllm:num_requests_running"],
                .kvCache: ["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"],
                .timeToFirstToken: ["vllm:time_to_first_token_seconds"],
                .interTokenLatency: ["vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"],
                .queueTime: ["vllm:request_queue_time_seconds"], .promptTokens: ["vllm:prompt_tokens_total"],
                .generatedTokens: ["vllm:generation_tokens_total"],
            ]
        case .sglang:
            [
                .waiting: ["sglang:num_queue_reqs"], .running: ["sglang:num_running_reqs"],
                .kvCache: ["sglang:full_token_usage", "sglang:token_usage"],
                .timeToFirstToken: ["sglang:time_to_first_token_seconds"],
                .interTokenLatency: ["sglang:inter_token_latency_seconds", "sglang:time_per_output_token_seconds"],
                .queueTime: ["sglang:queue_time_seconds"], .promptTokens: ["sglang:prompt_tokens_total"],
                .generatedTokens: ["sglang:generation_tokens_total"],
            ]
        case .tgi:
            // No KV gauge and no TTFT histogram: the time a request waits in the queue is the nearest measure. Token
            // counts are per-request histograms whose `_sum` counts.
            [
                .waiting: ["tgi_queue_size"], .running: ["tgi_batch_current_size"],
                .timeToFirstToken: ["tgi_request_queue_duration"],
                .interTokenLatency: ["tgi_request_mean_time_per_token_duration"],
                .queueTime: ["tgi_request_queue_duration"], .promptTokens: ["tgi_request_input_length_sum"],
                .generatedTokens: ["tgi_request_generated_tokens_sum"],
            ]
        case .nim:
            [
                .waiting: ["num_requests_waiting", "vllm:num_requests_waiting"],
                .running: ["num_requests_running", "vllm:num_requests_running"],
                .kvCache: ["gpu_cache_usage_perc", "vllm:kv_cache_usage_perc"],
                .timeToFirstToken: ["time_to_first_token_seconds", "vllm:time_to_first_token_seconds"],
                .interTokenLatency: ["time_per_output_token_seconds", "vllm:inter_token_latency_seconds"],
                .queueTime: ["vllm:request_queue_time_seconds"],
                .promptTokens: ["prompt_tokens_total", "vllm:prompt_tokens_total"],
                .generatedTokens: ["generation_tokens_total", "vllm:generation_tokens_total"],
            ]
        case .trtllm:
            [
                .waiting: ["trtllm_num_requests_waiting"], .running: ["trtllm_num_requests_running"],
                .kvCache: ["trtllm_kv_cache_utilization"],
                .timeToFirstToken: ["trtllm_time_to_first_token_seconds", "time_to_first_token_seconds"],
                .interTokenLatency: ["trtllm_time_per_output_token_seconds", "time_per_output_token_seconds"],
                .queueTime: ["trtllm_request_queue_time_seconds", "request_queue_time_seconds"],
                .promptTokens: ["trtllm_prompt_tokens_total"], .generatedTokens: ["trtllm_generation_tokens_total"],
            ]
        case .custom:
            [:]
        }
    }

    /// The role a preset signal reads; nil for `Custom` and DCGM's GPU utilization.
    public static func role(of type: SignalType) -> MetricRole? {
        switch type {
        case .queueDepth: .waiting
        case .runningRequests: .running
        case .kvCacheUtilization: .kvCache
        case .timeToFirstToken: .timeToFirstToken
        case .tokenThroughput: .generatedTokens
        case .gatewayQueueDepth: .gatewayQueue
        case .gatewaySaturation: .gatewaySaturation
        case .gatewayRunningRequests: .gatewayRunning
        case .gpuUtilization, .gpuMemoryCopyUtilization, .gpuFramebufferUsed, .gpuPower, .custom: nil
        }
    }

    /// The planner's queries for one policy, each one fleet-wide number over `window` seconds (nil: no name of the
    /// role is in use; `MetricNames.absence` says why).
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

    /// One expression per name in use, joined with `or` (per series, the newer name wins); nil when none is.
    static func either(_ names: [String], _ expression: (String) -> String) -> String? {
        names.isEmpty ? nil : names.map(expression).joined(separator: " or ")
    }

    /// What a workload served, as fleet-wide numbers over `window` seconds: the traffic the objective planner reads
    /// each round, and that a replay reads over a range (nil: no name of the role is in use).
    public struct TrafficQueries: Sendable, Equatable {
        /// Requests per second, from the TTFT histogram's count (every served request has a first token).
        public var requestRate: String?
        public var promptTokenRate: String?
        public var generatedTokenRate: String?
        /// Pods reporting the engine's running (or waiting) gauge: the replicas that served.
        public var pods: String?
        /// Requests waiting, summed over the pods.
        public var waiting: String?
        /// The TTFT histogram's buckets, summed by `le`: the share of first tokens within a target.
        public var ttftBuckets: String?
        /// The most samples one pod's request counter has in the ten minutes before the evaluation time: the data's
        /// resolution.
        public var samplesPerTenMinutes: String?
    }

    public static func trafficQueries(
        names: MetricNames, scope: PodScope, window: Double = PolicyDefaults.rateWindow
    ) -> TrafficQueries {
        let selector = scope.matchers()
        let range = "[\(Int(window.rounded()))s]"
        // The names joined per series inside the aggregation: a fleet in the middle of an upgrade, some pods on
        // each name, is summed whole (a pod exporting both counts once).
        func rate(_ role: MetricRole, _ suffix: String = "") -> String? {
            either(names[role]) { "rate(\($0)\(suffix){\(selector)}\(range))" }.map { "sum(\($0))" }
        }
        let perPod = names[.running].isEmpty ? names[.waiting] : names[.running]
        return TrafficQueries(
            requestRate: rate(.timeToFirstToken, "_count"), promptTokenRate: rate(.promptTokens),
            generatedTokenRate: rate(.generatedTokens),
            // Pods, not series: a data-parallel engine exports one series per engine.
            pods: either(perPod) { "\($0){\(selector)}" }.map { "count(count by (pod) (\($0)))" },
            waiting: either(names[.waiting]) { "\($0){\(selector)}" }.map { "sum(\($0))" },
            ttftBuckets: either(names[.timeToFirstToken]) { "sum by (le) (rate(\($0)_bucket{\(selector)}\(range)))" },
            samplesPerTenMinutes: either(names[.timeToFirstToken]) { "count_over_time(\($0)_count{\(selector)}[10m])" }
                .map { "max(\($0))" })
    }

    public static func plannerQueries(
        objective: ResolvedPolicy.Objective, names: MetricNames, scope: PodScope,
        window: Double = PolicyDefaults.rateWindow
    ) -> PlannerQueries {
        let selector = scope.matchers()
        let range = "[\(Int(window.rounded()))s]"
        let traffic = trafficQueries(names: names, scope: scope, window: window)
        func quantile(_ q: Double, _ role: MetricRole) -> String? {
            either(names[role]) { "histogram_quantile(\(q), sum by (le) (rate(\($0)_bucket{\(selector)}\(range))))" }
        }
        let q = objective.timeToFirstToken.quantile
        return PlannerQueries(
            requestRate: either(names[.timeToFirstToken]) { "sum by (pod) (rate(\($0)_count{\(selector)}\(range)))" },
            promptTokenRate: traffic.promptTokenRate, generatedTokenRate: traffic.generatedTokenRate,
            queueTime: quantile(q, .queueTime), timeToFirstToken: quantile(q, .timeToFirstToken),
            interTokenLatency: objective.interTokenLatency.flatMap { quantile($0.quantile, .interTokenLatency) },
            kvCacheUsage: either(names[.kvCache]) { "avg(\($0){\(selector)})" }, ttftBuckets: traffic.ttftBuckets)
    }

    /// The DCGM exporter's field behind each GPU type (one series per GPU, labelled with the pod that holds it).
    public static func dcgmMetric(for type: SignalType) -> String? {
        switch type {
        case .gpuUtilization: "DCGM_FI_DEV_GPU_UTIL"
        case .gpuMemoryCopyUtilization: "DCGM_FI_DEV_MEM_COPY_UTIL"
        case .gpuFramebufferUsed: "DCGM_FI_DEV_FB_USED"
        case .gpuPower: "DCGM_FI_DEV_POWER_USAGE"
        default: nil
        }
    }

    /// Every GPU series of the scope's pods, each with its workload's pod in `pod`. The exporter labels a GPU with the
    /// pod that holds it; scraped through the Helm chart's ServiceMonitor (`honorLabels: false`) those labels become
    /// `exported_pod`/`exported_namespace` (and `pod` names the exporter), so that spelling is matched too and its
    /// `exported_pod` copied onto `pod`.
    /// With `staleAfter`, a GPU whose last sample is older than that many seconds is left out.
    public static func gpuSeries(for type: SignalType, scope: PodScope, staleAfter: Double? = nil) -> String? {
        guard let metric = dcgmMetric(for: type) else { return nil }
        let direct = "\(metric){\(scope.matchers())}"
        let exported = "\(metric){\(scope.matchers(prefix: "exported_"))}"
        return "\(fresh(direct, of: direct, staleAfter: staleAfter)) or "
            + "label_replace(\(fresh(exported, of: exported, staleAfter: staleAfter)), \"pod\", \"$1\", \"exported_pod\", \"(.+)\")"
    }

    /// `expression` (of `series`) limited to series with a sample in the last `staleAfter` seconds at the query's
    /// evaluation time: an instant query otherwise returns a series' last value for up to five minutes after it stopped.
    static func fresh(_ expression: String, of series: String, staleAfter: Double?) -> String {
        guard let staleAfter else { return expression }
        return "\(expression) and timestamp(\(series)) > time() - \(Int(staleAfter.rounded(.up)))"
    }

    public enum PresetError: Error, Equatable, CustomStringConvertible {
        /// The engine has no such metric, or none of its names is exported: the message says which.
        case notExported(String)

        public var description: String {
            switch self {
            case .notExported(let message): message
            }
        }
    }

    /// The query for one signal. Its result is one number: a per-replica average for `AverageValue`, a fleet total
    /// for `Value` (as the decision expects).
    public static func query(
        for signal: ResolvedPolicy.Signal, names: MetricNames, scope: PodScope
    ) throws(PresetError) -> String {
        if signal.type == .custom { return signal.query ?? "" }
        let aggregate = signal.targetType == .value ? "sum" : "avg"
        let selector = scope.matchers()
        if let metric = dcgmMetric(for: signal.type) {
            let direct = "\(metric){\(selector)}"
            let exported = "\(metric){\(scope.matchers(prefix: "exported_"))}"
            return "\(aggregate)(\(direct)) or \(aggregate)(\(exported))"
        }
        guard let role = role(of: signal.type) else { return "" }
        let window = "\(Int((signal.window ?? PolicyDefaults.rateWindow).rounded()))s"
        let query: String?
        if let label = role.poolLabel {
            // The endpoint picker's series: the policy's namespace (where the picker runs beside its pool) and the
            // pool's name; no pod matcher, as they are the picker's own and exist while the pool has no endpoint.
            let pool = "\(PodScope.namespaceMatcher(scope.namespace)),\(label)=\(PromQL.string(signal.pool ?? ""))"
            // The queue is summed over its priority bands; saturation is per stage (prefill, decode), the highest.
            let reduce = role == .gatewayQueue ? "sum" : role == .gatewaySaturation ? "max" : "avg"
            query = either(names[role]) { "\(reduce)(\($0){\(pool)})" }
        } else if role == .timeToFirstToken {
            let quantile = signal.quantile ?? PolicyDefaults.quantile
            query = either(names[role]) {
                "histogram_quantile(\(quantile), sum by (le) (rate(\($0)_bucket{\(selector)}[\(window)])))"
            }
        } else if role == .generatedTokens {
            query = either(names[role]) { "\(aggregate)(rate(\($0){\(selector)}[\(window)]))" }
        } else {
            query = either(names[role]) { "\(aggregate)(\($0){\(selector)})" }
        }
        guard let query else { throw .notExported(names.absence(role)) }
        return query
    }

    /// `query(for:names:scope:)` with every name the engine has used.
    public static func query(
        for signal: ResolvedPolicy.Signal, engine: Engine, scope: PodScope
    ) throws(PresetError) -> String {
        try query(for: signal, names: names(for: engine), scope: scope)
    }

    /// One query for a whole namespace, `by (namespace, pod)`, that serves every policy there with this signal: each
    /// takes only its own pods' values and aggregates them as `query(for:names:scope:)` would (an average over the
    /// pods, or their sum for `Value`; for TTFT, per-pod bucket rates that each policy merges over its own pods before
    /// taking the quantile). Nil for signals read per policy (`Custom` queries and DCGM's GPU utilization) and for a
    /// role with no name in use.
    ///
    /// With `staleAfter`, a series whose last sample is older than that many seconds at the query's evaluation time
    /// is left out (`and timestamp(...) > time() - staleAfter`): an instant query otherwise returns a pod's last value
    /// for up to five minutes after it stopped reporting.
    public static func namespaceQuery(
        for signal: ResolvedPolicy.Signal, names: MetricNames, namespace: String, staleAfter: Double? = nil
    ) -> String? {
        guard let role = role(of: signal.type), role.poolLabel == nil else { return nil }
        let selector = PodScope.namespaceMatcher(namespace)
        let window = "\(Int((signal.window ?? PolicyDefaults.rateWindow).rounded()))s"
        func fresh(_ expression: String, of series: String) -> String {
            Self.fresh(expression, of: series, staleAfter: staleAfter)
        }
        switch role {
        case .generatedTokens:
            return either(names[role]) {
                let series = "\($0){\(selector)}"
                return "sum by (namespace, pod) (\(fresh("rate(\(series)[\(window)])", of: series)))"
            }
        case .timeToFirstToken:
            return either(names[role]) {
                let series = "\($0)_bucket{\(selector)}"
                return "sum by (namespace, pod, le) (\(fresh("rate(\(series)[\(window)])", of: series)))"
            }
        default:
            return either(names[role]) {
                let series = "\($0){\(selector)}"
                return "sum by (namespace, pod) (\(fresh(series, of: series)))"
            }
        }
    }

    /// Requests each pod is running, `by (pod)`: how much work a scale-down would cut off on each. Nil for engines
    /// without the gauge.
    public static func runningByPod(names: MetricNames, scope: PodScope) -> String? {
        either(names[.running]) { "sum by (pod) (\($0){\(scope.matchers())})" }
    }

    /// For TTFT: the request rate over the same window. A quantile of no requests is NaN; when this is 0 the fleet
    /// served nothing, so there was no latency to miss (0), which is not the same as a missing metric.
    public static func requestRate(for signal: ResolvedPolicy.Signal, names: MetricNames, scope: PodScope) -> String? {
        guard signal.type == .timeToFirstToken else { return nil }
        let window = "\(Int((signal.window ?? PolicyDefaults.rateWindow).rounded()))s"
        return either(names[.timeToFirstToken]) { "sum(rate(\($0)_count{\(scope.matchers())}[\(window)]))" }
    }

    /// The query that finds which of the engine's names have series in a namespace: one per engine and namespace,
    /// answered with one series per name found.
    public static func discoveryQuery(_ names: MetricNames, namespace: String) -> String? {
        let series = names.lookedFor
        guard !series.isEmpty else { return nil }
        let pattern = Array(Set(series)).sorted().map(PromQL.regexLiteral).joined(separator: "|")
        return "group by (__name__) ({__name__=~\(PromQL.string(pattern)),\(PodScope.namespaceMatcher(namespace))})"
    }
}
