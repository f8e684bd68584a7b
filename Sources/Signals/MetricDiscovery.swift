import AutoscalerCore
import Foundation

/// Which of an engine's metric names the pods of a namespace export, found with one query per engine and namespace
/// and kept for a while: engines rename metrics between releases, and reading a name nobody exports gives an empty
/// vector, which must be "missing", never 0.
public final class MetricDiscovery: Sendable {
    /// The engine's names narrowed to what the namespace exports.
    typealias Answer = Result<MetricNames, PrometheusError>

    private let answers = SharedAnswers<Answer>()
    /// Seconds a discovery is used before it is made again (an engine upgraded in place changes names).
    public let refresh: Double
    /// Seconds after which a discovery that found no name for a role a policy needs is made again (its pods may not
    /// have been scraped yet).
    public let recheckAbsent: Double
    /// Seconds a failed discovery is kept before it is tried again.
    public let retryFailed: Double

    public init(refresh: Double = 300, recheckAbsent: Double = 30, retryFailed: Double = 5) {
        self.refresh = refresh
        self.recheckAbsent = recheckAbsent
        self.retryFailed = retryFailed
    }

    /// The engine's names narrowed to those exported in `namespace`.
    /// - Parameters:
    ///   - key: which Prometheus (the client's identity): answers are not shared between two.
    ///   - roles: what the caller reads; a discovery without one of them is made again after `recheckAbsent`.
    public func names(
        engine: Engine, namespace: String, roles: [MetricRole], client: PrometheusQueryClient, key: String,
        at time: Date
    ) async -> Result<MetricNames, PrometheusError> {
        let all = EnginePresets.names(for: engine)
        guard let query = EnginePresets.discoveryQuery(all, namespace: namespace) else { return .success(all) }
        let needed = roles.filter { all.candidates[$0] != nil }
        return await answers.answer(
            key: "\(key)|\(engine.rawValue)|\(namespace)",
            fresh: { answer, age in
                switch answer {
                case .failure: return age < retryFailed
                case .success(let names):
                    return age < refresh && (age < recheckAbsent || needed.allSatisfy { !names[$0].isEmpty })
                }
            },
            fetch: {
                await client.vector(query, at: time, of: "a vector by __name__").map { samples in
                    all.restricted(to: Set(samples.compactMap { $0.labels["__name__"] }), in: namespace)
                }
            })
    }
}
