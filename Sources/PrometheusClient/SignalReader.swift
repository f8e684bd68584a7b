import AutoscalerCore
import Foundation

/// Reads a policy's signals from Prometheus as the decision wants them: a number, or missing with the reason.
public struct SignalReader: Sendable {
    /// What one signal's read gave, with the query that was run (for status and `inference-autoscaler query`).
    public struct Reading: Sendable, Equatable {
        public var query: String
        public var sample: SignalSample
    }

    public let client: PrometheusQueryClient
    /// The oldest sample accepted, in seconds.
    public var maxAge: Double

    public init(client: PrometheusQueryClient, maxAge: Double = 120) {
        self.client = client
        self.maxAge = maxAge
    }

    public func read(
        _ signal: ResolvedPolicy.Signal, engine: Engine, scope: PodScope, at time: Date
    ) async -> Reading {
        let query: String
        do {
            query = try EnginePresets.query(for: signal, engine: engine, scope: scope)
        } catch {
            return Reading(query: "", sample: .missing(error.description))
        }
        switch await client.value(query, at: time, maxAge: maxAge) {
        case .success(let value):
            return Reading(query: query, sample: .value(value))
        case .failure(let error) where error.code == .notANumber:
            // A latency quantile over no requests is NaN. With series present and a zero request rate the fleet
            // served nothing: there was no latency to miss. Anything else stays missing.
            if let rateQuery = EnginePresets.requestRate(for: signal, engine: engine, scope: scope),
                case .success(let rate) = await client.value(rateQuery, at: time, maxAge: maxAge), rate == 0
            {
                return Reading(query: query, sample: .value(0))
            }
            return Reading(query: query, sample: .missing(error.message))
        case .failure(let error):
            return Reading(query: query, sample: .missing(error.message))
        }
    }

    /// Every signal of a policy, concurrently, in the policy's order.
    public func readAll(_ policy: ResolvedPolicy, scope: PodScope, at time: Date) async -> [Reading] {
        await withTaskGroup(of: (Int, Reading).self) { group in
            for (index, signal) in policy.signals.enumerated() {
                group.addTask { (index, await read(signal, engine: policy.engine, scope: scope, at: time)) }
            }
            var readings = [Reading?](repeating: nil, count: policy.signals.count)
            for await (index, reading) in group { readings[index] = reading }
            return readings.map { $0! }
        }
    }
}
