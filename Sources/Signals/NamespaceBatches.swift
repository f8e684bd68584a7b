import AutoscalerCore
import Foundation

/// One Prometheus query per namespace and signal for every policy polled in the same round: policies of a namespace
/// share a polling phase, so their reconciles come together, and the first to ask runs the `by (namespace, pod)`
/// query while the others wait for its answer. Each policy then takes its own pods' values only.
public final class NamespaceBatches: Sendable {
    /// Per pod, per `le` bucket bound (`""` for a series without one), the value.
    public typealias PodValues = [String: [String: Double]]
    typealias Answer = Result<PodValues, PrometheusError>

    private let answers = SharedAnswers<Answer>()

    public init() {}

    /// Per-pod values of `query`, fetched at most once per `maxAge` for the same `key`: the first caller fetches in
    /// its own task, the ones that come while it does wait for its answer.
    func values(
        key: String, query: String, client: PrometheusQueryClient, at time: Date, maxAge: Double
    ) async -> Answer {
        await answers.answer(key: key, fresh: { _, age in age < maxAge }) {
            await Self.fetch(query, client: client, at: time)
        }
    }

    private static func fetch(
        _ query: String, client: PrometheusQueryClient, at time: Date
    ) async -> Answer {
        await client.vector(query, at: time, of: "a vector by pod").map { samples in
            var values: PodValues = [:]
            for sample in samples {
                guard let pod = sample.labels["pod"] else { continue }
                let bound = sample.labels["le"] ?? ""
                // `or` of two metric names can give a pod twice: the first (the newer name) wins, as in the preset.
                if values[pod]?[bound] == nil { values[pod, default: [:]][bound] = sample.value }
            }
            return values
        }
    }

    /// A policy's value from the namespace's per-pod values: its own pods only, averaged (or summed for `Value`).
    ///
    /// A ready pod without a fresh series is not averaged away, or the fleet would shrink on the pods that still
    /// report. As the HPA does for pods without metrics: for an average, a silent pod counts as idle (0) when the
    /// others ask for more replicas and as exactly at `target` when they ask for fewer, and the result never crosses
    /// `target` on its account; a total (`Value`) with a silent ready pod is missing. Pods not ready (starting, no
    /// metrics yet) are left out.
    static func aggregate(
        _ values: PodValues, pods: [String], ready: Set<String> = [], targetType: TargetType, target: Double = 0
    ) -> SignalSample {
        let own = pods.compactMap { values[$0]?[""] }
        guard !own.isEmpty else { return .missing("no series matched the target's pods") }
        guard own.allSatisfy(\.isFinite) else { return .missing("a pod's value is not a number") }
        let silent = pods.filter { ready.contains($0) && values[$0]?[""] == nil }
        let sum = own.reduce(0, +)
        if targetType == .value {
            guard silent.isEmpty else { return .missing(Self.silentMessage(silent, of: pods.count)) }
            return .value(sum)
        }
        let average = sum / Double(own.count)
        guard !silent.isEmpty else { return .value(average) }
        let count = Double(own.count + silent.count)
        if average > target { return .value(max(target, sum / count)) }
        return .value(min(target, (sum + target * Double(silent.count)) / count))
    }

    static func silentMessage(_ silent: [String], of total: Int) -> String {
        let names = silent.sorted().prefix(3).joined(separator: ", ")
        return
            "\(silent.count) of \(total) ready pods have no fresh series (\(names)\(silent.count > 3 ? ", …" : "")): "
            + "a total without them would be too low"
    }

    /// A TTFT quantile of a policy's pods from the namespace's per-pod bucket rates: the pods' buckets merged, then
    /// `histogram_quantile` as Prometheus computes it (linear within the bucket; the highest finite bound when the
    /// rank falls in `+Inf`). No requests in the window is 0: there was no latency to miss.
    static func quantile(_ q: Double, of values: PodValues, pods: [String]) -> SignalSample {
        var merged: [Double: Double] = [:]
        var seen = false
        for pod in pods {
            guard let buckets = values[pod] else { continue }
            for (bound, rate) in buckets {
                guard let upper = bound == "+Inf" ? Double.infinity : Double(bound) else { continue }
                merged[upper, default: 0] += rate
                seen = true
            }
        }
        guard seen else { return .missing("no series matched the target's pods") }
        let buckets = merged.sorted { $0.key < $1.key }
        guard let total = buckets.last, total.key == .infinity else {
            return .missing("the histogram has no +Inf bucket")
        }
        guard total.value.isFinite else { return .missing("a pod's value is not a number") }
        if total.value == 0 { return .value(0) }
        let rank = q * total.value
        var previous: (bound: Double, count: Double) = (0, 0)
        for (bound, count) in buckets {
            if count >= rank {
                if bound == .infinity { return .value(previous.bound) }
                if count == previous.count { return .value(bound) }
                return .value(
                    previous.bound + (bound - previous.bound) * (rank - previous.count) / (count - previous.count))
            }
            previous = (bound, max(previous.count, count))
        }
        return .value(previous.bound)
    }
}
