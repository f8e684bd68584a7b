import AutoscalerCore
import Foundation

/// What one simulated inference pod reports. Counters and histograms only grow: tests add observations.
public struct PodMetrics: Sendable, Equatable {
    public var namespace: String
    public var pod: String
    public var engine: Engine
    public var model: String
    public var waiting: Double
    public var running: Double
    /// 0–1.
    public var kvCacheUsage: Double
    /// TTFT observations so far (seconds), as the engine's histogram counts them.
    public var ttft: Histogram
    /// Generated tokens so far.
    public var generatedTokens: Double
    /// Prompt tokens so far (vLLM and SGLang's `prompt_tokens_total`).
    public var promptTokens: Double
    /// Seconds between tokens, as the engine's inter-token (or time-per-output-token) histogram counts them.
    public var interTokenLatency: Histogram
    /// Seconds requests waited before the engine took them (vLLM's `request_queue_time_seconds`); nil: none.
    public var queueTime: Histogram?
    /// DCGM GPU utilization (%), or nil for no GPU series.
    public var gpuUtilization: Double?
    /// The other DCGM fields of each GPU: memory-copy utilization (%), framebuffer used (MiB), power (W).
    public var gpuMemoryCopyUtilization: Double = 0
    public var gpuFramebufferUsed: Double = 0
    public var gpuPower: Double = 0
    /// How many of the pod's GPUs the exporter reports, each with the same values.
    public var gpusReporting: Int = 1
    /// Which release's metric names the pod exports.
    public var release: Release
    /// SGLang on a hybrid (Mamba) model: `token_usage` also counts Mamba state, `full_token_usage` is the attention KV
    /// cache (`kvCacheUsage`); nil for a plain model, which exports `token_usage` only.
    public var hybridTokenUsage: Double?
    /// DCGM series scraped through the Helm chart's ServiceMonitor carry `exported_pod`/`exported_namespace`.
    public var dcgmExportedLabels: Bool

    public init(
        namespace: String, pod: String, engine: Engine = .vllm, model: String = "meta-llama/Llama-3.1-8B-Instruct",
        waiting: Double = 0, running: Double = 0, kvCacheUsage: Double = 0, ttft: Histogram? = nil,
        interTokenLatency: Histogram? = nil,
        generatedTokens: Double = 0, promptTokens: Double = 0, queueTime: Histogram? = nil,
        gpuUtilization: Double? = nil, release: Release = .current, hybridTokenUsage: Double? = nil,
        dcgmExportedLabels: Bool = false
    ) {
        self.promptTokens = promptTokens
        self.queueTime = queueTime
        self.namespace = namespace
        self.pod = pod
        self.engine = engine
        self.model = model
        self.waiting = waiting
        self.running = running
        self.kvCacheUsage = kvCacheUsage
        self.ttft = ttft ?? Histogram(bounds: Histogram.ttftBounds(for: engine))
        self.interTokenLatency = interTokenLatency ?? Histogram(bounds: Histogram.vllmTTFTBounds)
        self.generatedTokens = generatedTokens
        self.gpuUtilization = gpuUtilization
        self.release = release
        self.hybridTokenUsage = hybridTokenUsage
        self.dcgmExportedLabels = dcgmExportedLabels
    }
}

extension PodMetrics {
    /// Engines rename metrics between releases; a fixture pod exports one release's names, written down here from the
    /// engines' sources (not taken from the presets, which they test).
    public enum Release: Sendable, Equatable {
        /// vLLM V1 (0.12), SGLang 0.5, trtllm-serve with its `trtllm_` names.
        case current
        /// vLLM before 0.9.2 (`gpu_cache_usage_perc`, `time_per_output_token_seconds`); SGLang before its
        /// `inter_token_latency_seconds`; trtllm-serve 1.1 (five unprefixed metrics: no queue, running or KV gauge).
        /// TGI and NIM have not renamed theirs.
        case previous
    }
}

/// A cumulative Prometheus histogram.
public struct Histogram: Sendable, Equatable {
    public var bounds: [Double]
    /// Per bucket (not cumulative), plus the +Inf bucket last.
    public private(set) var counts: [Double]
    public private(set) var sum: Double = 0
    public private(set) var count: Double = 0

    public init(bounds: [Double]) {
        self.bounds = bounds
        self.counts = Array(repeating: 0, count: bounds.count + 1)
    }

    /// A histogram as an engine exports it: cumulative counts per bound, then `+Inf`, and the sum.
    public init(bounds: [Double], cumulativeCounts: [Double], sum: Double) {
        precondition(cumulativeCounts.count == bounds.count + 1, "one count per bound and one for +Inf")
        self.bounds = bounds
        var previous = 0.0
        self.counts = cumulativeCounts.map { total in
            defer { previous = total }
            return total - previous
        }
        self.sum = sum
        self.count = cumulativeCounts.last ?? 0
    }

    public mutating func observe(_ value: Double, times: Int = 1) {
        let index = bounds.firstIndex { value <= $0 } ?? bounds.count
        counts[index] += Double(times)
        sum += value * Double(times)
        count += Double(times)
    }

    /// vLLM's (and, by copying it, SGLang's and NIM's) TTFT buckets.
    public static let vllmTTFTBounds: [Double] = [
        0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
        160.0, 640.0, 2560.0,
    ]

    /// TGI's queue-duration histogram uses exponential buckets.
    public static let tgiQueueBounds: [Double] = (0..<35).map { 0.0001 * pow(1.5, Double($0)) }

    public static func ttftBounds(for engine: Engine) -> [Double] {
        engine == .tgi ? tgiQueueBounds : vllmTTFTBounds
    }
}

/// The Prometheus text exposition format (0.0.4) for a set of pods, with each engine's real metric names.
public enum Exposition {
    /// - Parameter targetLabels: whether each series carries `namespace` and `pod` (as after a scrape with
    ///   `honor_labels`). A real engine exports neither; service discovery attaches them to its target.
    public static func render(_ pods: [PodMetrics], targetLabels: Bool = true) -> String {
        var families: [String: (type: String, lines: [String])] = [:]
        var order: [String] = []
        func add(_ name: String, _ type: String, _ line: String) {
            if families[name] == nil {
                families[name] = (type, [])
                order.append(name)
            }
            families[name]!.lines.append(line)
        }
        func gauge(_ name: String, _ labels: [(String, String)], _ value: Double) {
            add(name, "gauge", sample(name, labels, value))
        }
        func counter(_ name: String, _ labels: [(String, String)], _ value: Double) {
            add(name, "counter", sample(name, labels, value))
        }
        for pod in pods.sorted(by: { ($0.namespace, $0.pod) < ($1.namespace, $1.pod) }) {
            let base = targetLabels ? [("namespace", pod.namespace), ("pod", pod.pod)] : []
            let previous = pod.release == .previous
            switch pod.engine {
            case .vllm:
                let labels = base + [("model_name", pod.model), ("engine", "0")]
                gauge("vllm:num_requests_waiting", labels, pod.waiting)
                gauge("vllm:num_requests_running", labels, pod.running)
                gauge(previous ? "vllm:gpu_cache_usage_perc" : "vllm:kv_cache_usage_perc", labels, pod.kvCacheUsage)
                histogram("vllm:time_to_first_token_seconds", labels, pod.ttft, add)
                let itl = previous ? "vllm:time_per_output_token_seconds" : "vllm:inter_token_latency_seconds"
                histogram(itl, labels, pod.interTokenLatency, add)
                counter("vllm:generation_tokens_total", labels, pod.generatedTokens)
                counter("vllm:prompt_tokens_total", labels, pod.promptTokens)
                if let queue = pod.queueTime { histogram("vllm:request_queue_time_seconds", labels, queue, add) }
            case .sglang:
                let labels = base + [("model_name", pod.model)]
                gauge("sglang:num_queue_reqs", labels, pod.waiting)
                gauge("sglang:num_running_reqs", labels, pod.running)
                if let hybrid = pod.hybridTokenUsage {
                    gauge("sglang:token_usage", labels, hybrid)
                    gauge("sglang:full_token_usage", labels, pod.kvCacheUsage)
                } else {
                    gauge("sglang:token_usage", labels, pod.kvCacheUsage)
                }
                histogram("sglang:time_to_first_token_seconds", labels, pod.ttft, add)
                let itl = previous ? "sglang:time_per_output_token_seconds" : "sglang:inter_token_latency_seconds"
                histogram(itl, labels, pod.interTokenLatency, add)
                counter("sglang:generation_tokens_total", labels, pod.generatedTokens)
                counter("sglang:prompt_tokens_total", labels, pod.promptTokens)
                if let queue = pod.queueTime { histogram("sglang:queue_time_seconds", labels, queue, add) }
            case .tgi:
                gauge("tgi_queue_size", base, pod.waiting)
                gauge("tgi_batch_current_size", base, pod.running)
                histogram("tgi_request_queue_duration", base, pod.ttft, add)
                // TGI counts generated tokens per request in a histogram; only its _sum and _count matter here.
                add(
                    "tgi_request_generated_tokens", "histogram",
                    sample("tgi_request_generated_tokens_sum", base, pod.generatedTokens))
                add(
                    "tgi_request_generated_tokens", "histogram",
                    sample("tgi_request_generated_tokens_count", base, pod.ttft.count))
                add(
                    "tgi_request_generated_tokens", "histogram",
                    sample("tgi_request_generated_tokens_bucket", base + [("le", "+Inf")], pod.ttft.count))
            case .nim:
                let labels = base + [("model_name", pod.model)]
                gauge("num_requests_waiting", labels, pod.waiting)
                gauge("num_requests_running", labels, pod.running)
                gauge("gpu_cache_usage_perc", labels, pod.kvCacheUsage)
                histogram("time_to_first_token_seconds", labels, pod.ttft, add)
                histogram("time_per_output_token_seconds", labels, pod.interTokenLatency, add)
                counter("generation_tokens_total", labels, pod.generatedTokens)
                counter("prompt_tokens_total", labels, pod.promptTokens)
            case .trtllm:
                let labels = base + [("model_name", pod.model), ("engine_type", "trtllm")]
                if previous {
                    histogram("time_to_first_token_seconds", labels, pod.ttft, add)
                    histogram("time_per_output_token_seconds", labels, pod.interTokenLatency, add)
                    if let queue = pod.queueTime { histogram("request_queue_time_seconds", labels, queue, add) }
                } else {
                    gauge("trtllm_num_requests_waiting", labels, pod.waiting)
                    gauge("trtllm_num_requests_running", labels, pod.running)
                    gauge("trtllm_kv_cache_utilization", labels, pod.kvCacheUsage)
                    histogram("trtllm_time_to_first_token_seconds", labels, pod.ttft, add)
                    histogram("trtllm_time_per_output_token_seconds", labels, pod.interTokenLatency, add)
                    counter("trtllm_generation_tokens_total", labels, pod.generatedTokens)
                    counter("trtllm_prompt_tokens_total", labels, pod.promptTokens)
                    if let queue = pod.queueTime {
                        histogram("trtllm_request_queue_time_seconds", labels, queue, add)
                    }
                }
            case .custom:
                break
            }
            if let utilization = pod.gpuUtilization {
                let prefix = pod.dcgmExportedLabels ? "exported_" : ""
                for gpu in 0..<pod.gpusReporting {
                    var labels = [
                        ("gpu", "\(gpu)"), ("\(prefix)namespace", pod.namespace), ("\(prefix)pod", pod.pod),
                        ("\(prefix)container", "server"), ("Hostname", "gpu-node-1"),
                    ]
                    // Through the Helm chart's ServiceMonitor, `pod` and `namespace` name the exporter itself.
                    if pod.dcgmExportedLabels { labels += [("namespace", "gpu-operator"), ("pod", "dcgm-exporter-x")] }
                    gauge("DCGM_FI_DEV_GPU_UTIL", labels, utilization)
                    gauge("DCGM_FI_DEV_MEM_COPY_UTIL", labels, pod.gpuMemoryCopyUtilization)
                    gauge("DCGM_FI_DEV_FB_USED", labels, pod.gpuFramebufferUsed)
                    gauge("DCGM_FI_DEV_POWER_USAGE", labels, pod.gpuPower)
                }
            }
        }
        var text = ""
        for name in order {
            let family = families[name]!
            text += "# HELP \(name) Fixture value for tests.\n# TYPE \(name) \(family.type)\n"
            text += family.lines.joined(separator: "\n") + "\n"
        }
        return text
    }

    private static func histogram(
        _ name: String, _ labels: [(String, String)], _ histogram: Histogram, _ add: (String, String, String) -> Void
    ) {
        var cumulative = 0.0
        for (index, bound) in histogram.bounds.enumerated() {
            cumulative += histogram.counts[index]
            add(name, "histogram", sample("\(name)_bucket", labels + [("le", format(bound))], cumulative))
        }
        add(name, "histogram", sample("\(name)_bucket", labels + [("le", "+Inf")], histogram.count))
        add(name, "histogram", sample("\(name)_sum", labels, histogram.sum))
        add(name, "histogram", sample("\(name)_count", labels, histogram.count))
    }

    static func sample(_ name: String, _ labels: [(String, String)], _ value: Double) -> String {
        let rendered = labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
        return "\(name){\(rendered)} \(format(value))"
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return String(value)
    }
}
