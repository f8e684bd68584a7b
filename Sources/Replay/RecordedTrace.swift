import Foundation
import Simulator

extension PrometheusRecording {
    /// The steps from `start` seconds into the recording, for `duration` seconds (to the end when nil); nil when
    /// nothing is left.
    public func window(start offset: Double, duration: Double?) -> PrometheusRecording? {
        let first = max(0, Int((offset / step).rounded(.down)))
        let last = min(count, duration.map { first + Int(($0 / step).rounded(.up)) } ?? count)
        guard first < last else { return nil }
        return steps(first..<last)
    }

    /// Steps Prometheus had no request rate for; the replay holds the last rate through them.
    public var gaps: Int { requestRate.filter { $0 == nil }.count }

    /// The traffic as a rate trace, one segment per step, from the recording's first step (time 0 is the start of
    /// the range). Arrivals inside a step are Poisson: Prometheus keeps rates, not request times.
    public func trace() -> Trace {
        var segments: [RateSegment] = []
        var rate = 0.0
        // Until a step served requests: Azure 2023's conversation mix.
        var tokens = Trace.conversationTokens
        for index in 0..<count {
            // A gap holds the rate and tokens before it.
            if let served = requestRate[index] {
                rate = max(0, served)
                if served > 0, let prompt = promptTokenRate[index] { tokens.input = max(1, prompt / served) }
                if served > 0, let generated = generatedTokenRate[index] { tokens.output = max(1, generated / served) }
            }
            segments.append(
                RateSegment(
                    start: Double(index) * step, duration: step, requestsPerSecond: rate, meanInputTokens: tokens.input,
                    meanOutputTokens: tokens.output))
        }
        return .rates(segments)
    }

    /// What the workload ran: its serving pods per step (held through gaps), on the trace's time axis.
    public var liveReplicas: [(time: Double, replicas: Double)] {
        var last = 0.0
        return pods.enumerated().map { index, value in
            if let value { last = value }
            return (Double(index) * step, last)
        }
    }

    /// Replica-hours the workload ran over the range.
    public var liveReplicaHours: Double { liveReplicas.reduce(0) { $0 + $1.replicas } * step / 3600 }

    /// Mean prompt and generated tokens per request over `steps` (nil when none of them has all three rates).
    func meanTokens(over steps: [Int]) -> (input: Double, output: Double)? {
        var requests = 0.0
        var input = 0.0
        var output = 0.0
        for index in steps {
            guard let served = requestRate[index], let prompt = promptTokenRate[index],
                let generated = generatedTokenRate[index]
            else { continue }
            requests += served
            input += prompt
            output += generated
        }
        return requests > 0 ? (input / requests, output / requests) : nil
    }
}
