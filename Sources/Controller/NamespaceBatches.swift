import AutoscalerCore
import Foundation
import PrometheusClient
import Synchronization

/// One Prometheus query per namespace and signal for every policy polled in the same round: policies of a namespace
/// share a polling phase, so their reconciles come together, and the first to ask runs the `by (namespace, pod)`
/// query while the others wait for its answer. Each policy then takes its own pods' values only.
final class NamespaceBatches: Sendable {
    private struct Entry {
        var fetchedAt: ContinuousClock.Instant
        var result: Result<[String: Double], PrometheusError>
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var inFlight: [String: Task<Result<[String: Double], PrometheusError>, Never>] = [:]
    }

    private let state = Mutex(State())
    private let clock = ContinuousClock()

    /// Per-pod values of `query` (keyed by pod name), fetched at most once per `maxAge` for the same `key`.
    func values(
        key: String, query: String, client: PrometheusQueryClient, at time: Date, maxAge: Double
    ) async -> Result<[String: Double], PrometheusError> {
        let now = clock.now
        let task = state.withLock { state -> Task<Result<[String: Double], PrometheusError>, Never>? in
            if let entry = state.entries[key], now - entry.fetchedAt < .seconds(maxAge) { return nil }
            if let running = state.inFlight[key] { return running }
            let task = Task { await Self.fetch(query, client: client, at: time) }
            state.inFlight[key] = task
            return task
        }
        guard let task else {
            return state.withLock { $0.entries[key]!.result }
        }
        let result = await task.value
        state.withLock { state in
            if state.inFlight[key] == task {
                state.inFlight[key] = nil
                state.entries[key] = Entry(fetchedAt: clock.now, result: result)
            }
        }
        return result
    }

    private static func fetch(
        _ query: String, client: PrometheusQueryClient, at time: Date
    ) async -> Result<[String: Double], PrometheusError> {
        switch await client.query(query, at: time) {
        case .failure(let error):
            return .failure(error)
        case .success(let response):
            guard case .vector(let samples) = response.result else {
                return .failure(PrometheusError(.malformed, "expected a vector by pod, got a scalar"))
            }
            var values: [String: Double] = [:]
            for sample in samples {
                guard let pod = sample.labels["pod"] else { continue }
                // `or` of two metric names can give a pod twice: the first (the newer name) wins, as in the preset.
                if values[pod] == nil { values[pod] = sample.value }
            }
            return .success(values)
        }
    }

    /// A policy's value from the namespace's per-pod values: its own pods only, averaged (or summed for `Value`)
    /// over those that report, as `avg(metric{pod=~"…"})` would.
    static func aggregate(
        _ values: [String: Double], pods: [String], targetType: TargetType
    ) -> SignalSample {
        let own = pods.compactMap { values[$0] }
        guard !own.isEmpty else { return .missing("no series matched the target's pods") }
        guard own.allSatisfy(\.isFinite) else { return .missing("a pod's value is not a number") }
        let sum = own.reduce(0, +)
        return .value(targetType == .value ? sum : sum / Double(own.count))
    }
}
