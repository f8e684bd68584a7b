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
    /// Seconds requests waited before the engine took them (vLLM's `request_queue_time_seconds`); nil: none.
    public var queueTime: Histogram?
    /// DCGM GPU utilization (%), or nil for no GPU series.
    public var gpuUtilization: Double?
    /// vLLM before 0.9.2 exported the KV gauge as `vllm:gpu_cache_usage_perc`.
    public var legacyKVCacheName: Bool
    /// DCGM series scraped through the Helm chart's ServiceMonitor carry `exported_pod`/`exported_namespace`.
    public var dcgmExportedLabels: Bool

    public init(
        namespace: String, pod: String, engine: Engine = .vllm, model: String = "meta-llama/Llama-3.1-8B-Instruct",
        waiting: Double = 0, running: Double = 0, kvCacheUsage: Double = 0, ttft: Histogram? = nil,
        generatedTokens: Double = 0, promptTokens: Double = 0, queueTime: Histogram? = nil,
        gpuUtilization: Double? = nil, legacyKVCacheName: Bool = false, dcgmExportedLabels: Bool = false
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
        self.generatedTokens = generatedTokens
        self.gpuUtilization = gpuUtilization
        self.legacyKVCacheName = legacyKVCacheName
        self.dcgmExportedLabels = dcgmExportedLabels
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
        for pod in pods.sorted(by: { ($0.namespace, $0.pod) < ($1.namespace, $1.pod) }) {
            let base = targetLabels ? [("namespace", pod.namespace), ("pod", pod.pod)] : []
            switch pod.engine {
            case .vllm:
                let labels = base + [("model_name", pod.model), ("engine", "0")]
                add("vllm:num_requests_waiting", "gauge", sample("vllm:num_requests_waiting", labels, pod.waiting))
                add("vllm:num_requests_running", "gauge", sample("vllm:num_requests_running", labels, pod.running))
                let kv = pod.legacyKVCacheName ? "vllm:gpu_cache_usage_perc" : "vllm:kv_cache_usage_perc"
                add(kv, "gauge", sample(kv, labels, pod.kvCacheUsage))
                histogram("vllm:time_to_first_token_seconds", labels, pod.ttft, add)
                add(
                    "vllm:generation_tokens_total", "counter",
                    sample("vllm:generation_tokens_total", labels, pod.generatedTokens))
                add("vllm:prompt_tokens_total", "counter", sample("vllm:prompt_tokens_total", labels, pod.promptTokens))
                if let queue = pod.queueTime { histogram("vllm:request_queue_time_seconds", labels, queue, add) }
            case .sglang:
                let labels = base + [("model_name", pod.model)]
                add("sglang:num_queue_reqs", "gauge", sample("sglang:num_queue_reqs", labels, pod.waiting))
                add("sglang:num_running_reqs", "gauge", sample("sglang:num_running_reqs", labels, pod.running))
                add("sglang:token_usage", "gauge", sample("sglang:token_usage", labels, pod.kvCacheUsage))
                histogram("sglang:time_to_first_token_seconds", labels, pod.ttft, add)
                add(
                    "sglang:generation_tokens_total", "counter",
                    sample("sglang:generation_tokens_total", labels, pod.generatedTokens))
            case .tgi:
                add("tgi_queue_size", "gauge", sample("tgi_queue_size", base, pod.waiting))
                add("tgi_batch_current_size", "gauge", sample("tgi_batch_current_size", base, pod.running))
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
                add("num_requests_waiting", "gauge", sample("num_requests_waiting", labels, pod.waiting))
                add("num_requests_running", "gauge", sample("num_requests_running", labels, pod.running))
                add("gpu_cache_usage_perc", "gauge", sample("gpu_cache_usage_perc", labels, pod.kvCacheUsage))
                histogram("time_to_first_token_seconds", labels, pod.ttft, add)
                add(
                    "generation_tokens_total", "counter", sample("generation_tokens_total", labels, pod.generatedTokens)
                )
            case .custom:
                break
            }
            if let utilization = pod.gpuUtilization {
                let prefix = pod.dcgmExportedLabels ? "exported_" : ""
                let labels = [
                    ("gpu", "0"), ("\(prefix)namespace", pod.namespace), ("\(prefix)pod", pod.pod),
                    ("\(prefix)container", "server"),
                ]
                add("DCGM_FI_DEV_GPU_UTIL", "gauge", sample("DCGM_FI_DEV_GPU_UTIL", labels, utilization))
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
