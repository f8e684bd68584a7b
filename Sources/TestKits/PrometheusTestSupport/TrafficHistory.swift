import Foundation

/// A known traffic pattern of a vLLM Deployment, written as the OpenMetrics history Prometheus would have scraped
/// from its pods (one sample per pod and series every `scrapeInterval`), for backfilling.
public struct TrafficHistory: Sendable {
    /// One stretch of the pattern.
    public struct Phase: Sendable {
        public var seconds: Double
        public var pods: Int
        /// Requests per second each pod serves.
        public var requestsPerPod: Double
        /// Requests waiting on each pod.
        public var waitingPerPod: Double

        public init(seconds: Double, pods: Int, requestsPerPod: Double, waitingPerPod: Double = 0) {
            self.seconds = seconds
            self.pods = pods
            self.requestsPerPod = requestsPerPod
            self.waitingPerPod = waitingPerPod
        }
    }

    public var namespace = "inference"
    public var deployment = "vllm"
    public var phases: [Phase]
    /// Seconds since 1970 of the first sample.
    public var start: Double
    public var scrapeInterval = 15.0
    public var promptTokens = 500.0
    public var generatedTokens = 100.0
    /// Cumulative share of requests whose first token came within each bound (the rest above the last).
    public var ttftShares: [(le: Double, share: Double)] = [(0.5, 0.95), (1, 0.99), (2.5, 0.99)]
    /// Also write Prometheus' own `up` for the whole range, as a server that was scraping throughout has it.
    public var withUp = false

    public init(phases: [Phase], start: Double) {
        self.phases = phases
        self.start = start
    }

    public var end: Double { start + phases.reduce(0) { $0 + $1.seconds } }

    /// Pod `index`'s name, as a Deployment names its pods.
    public func pod(_ index: Int) -> String {
        "\(deployment)-7d9c5b6f4-" + String(repeating: String(UnicodeScalar(UInt8(97 + index % 26))), count: 5)
    }

    /// The OpenMetrics text, ending in `# EOF`.
    public func openMetrics() -> String {
        // Per pod: the time it appears, and its requests served so far at each sample.
        let maxPods = phases.map(\.pods).max() ?? 0
        var samples: [[(time: Double, served: Double, waiting: Double)]] = Array(repeating: [], count: maxPods)
        var time = start
        var served = [Double](repeating: 0, count: maxPods)
        var phaseStart = start
        for phase in phases {
            while time < phaseStart + phase.seconds - 1e-9 {
                for pod in 0..<phase.pods {
                    samples[pod].append((time, served[pod], phase.waitingPerPod))
                    served[pod] += phase.requestsPerPod * scrapeInterval
                }
                time += scrapeInterval
            }
            phaseStart += phase.seconds
        }
        var out = ""
        func family(
            _ name: String, _ type: String, _ lines: (Int, (time: Double, served: Double, waiting: Double)) -> [String]
        ) {
            out += "# TYPE \(name) \(type)\n"
            for pod in 0..<maxPods {
                for sample in samples[pod] { out += lines(pod, sample).joined() }
            }
        }
        func labels(_ pod: Int, _ extra: String = "") -> String {
            "{namespace=\"\(namespace)\",pod=\"\(self.pod(pod))\"\(extra)}"
        }
        func stamp(_ time: Double) -> String { String(format: "%.3f", time) }
        family("vllm:time_to_first_token_seconds", "histogram") { pod, sample in
            var lines = ttftShares.map { bound, share in
                "vllm:time_to_first_token_seconds_bucket\(labels(pod, ",le=\"\(bound)\"")) "
                    + "\(sample.served * share) \(stamp(sample.time))\n"
            }
            lines.append(
                "vllm:time_to_first_token_seconds_bucket\(labels(pod, ",le=\"+Inf\"")) \(sample.served) \(stamp(sample.time))\n"
            )
            lines.append(
                "vllm:time_to_first_token_seconds_count\(labels(pod)) \(sample.served) \(stamp(sample.time))\n")
            lines.append(
                "vllm:time_to_first_token_seconds_sum\(labels(pod)) \(sample.served * 0.3) \(stamp(sample.time))\n")
            return lines
        }
        family("vllm:prompt_tokens", "counter") { pod, sample in
            ["vllm:prompt_tokens_total\(labels(pod)) \(sample.served * promptTokens) \(stamp(sample.time))\n"]
        }
        family("vllm:generation_tokens", "counter") { pod, sample in
            ["vllm:generation_tokens_total\(labels(pod)) \(sample.served * generatedTokens) \(stamp(sample.time))\n"]
        }
        family("vllm:num_requests_running", "gauge") { pod, sample in
            ["vllm:num_requests_running\(labels(pod)) 8 \(stamp(sample.time))\n"]
        }
        family("vllm:num_requests_waiting", "gauge") { pod, sample in
            ["vllm:num_requests_waiting\(labels(pod)) \(sample.waiting) \(stamp(sample.time))\n"]
        }
        if withUp {
            out += "# TYPE up gauge\n"
            var time = start
            while time < end - 1e-9 {
                out += "up{job=\"prometheus\",instance=\"localhost:9090\"} 1 \(stamp(time))\n"
                time += scrapeInterval
            }
        }
        return out + "# EOF\n"
    }
}
