import AutoscalerCore
import Foundation
import Signals

/// What a workload served, step by step, read back from Prometheus with the controller's own queries.
public struct PrometheusRecording: Sendable {
    /// Seconds since 1970 of the first step's end (each step covers the `step` seconds before it).
    public var start: Double
    public var step: Double
    /// Seconds between the workload's samples, as found in the data (or assumed, when it could not be).
    public var resolution: Double
    /// Per step; nil where Prometheus had no data (where it was scraping and the workload had no series, the
    /// workload had no pods: 0).
    public var requestRate: [Double?]
    public var promptTokenRate: [Double?]
    public var generatedTokenRate: [Double?]
    /// Pods that reported the engine's gauges: the replicas that served.
    public var pods: [Double?]
    public var waiting: [Double?]

    public var count: Int { requestRate.count }
    /// Seconds since 1970 of the last step's end.
    public var end: Double { start + Double(count - 1) * step }

    /// Steps `range` only, of every series alike.
    func steps(_ range: Range<Int>) -> PrometheusRecording {
        var cut = self
        for path in [\PrometheusRecording.requestRate, \.promptTokenRate, \.generatedTokenRate, \.pods, \.waiting] {
            cut[keyPath: path] = Array(self[keyPath: path][range])
        }
        cut.start = start + Double(range.lowerBound) * step
        return cut
    }

    public struct ReadError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// At most this many points per series in one range query (Prometheus refuses more than 11,000).
    static let pointsPerQuery = 10_000

    /// Reads `[from, to]` in steps of `step` seconds (at least the data's resolution), in chunks Prometheus accepts,
    /// with the planner's own queries; rates are over a step and at least four samples. The resolution is found in
    /// the data (`scrapeInterval` when it cannot be). Steps before the first and after the last with data (a range
    /// longer than the retention, or than the workload's life) are left out.
    public static func read(
        client: PrometheusQueryClient, engine: Engine, scope: PodScope, from: Date, to: Date, step requested: Double,
        scrapeInterval: Double = 15
    ) async throws(ReadError) -> PrometheusRecording {
        guard requested > 0, to > from else { throw ReadError(description: "an empty range") }
        let names = EnginePresets.names(for: engine)
        let resolution =
            await self.resolution(
                EnginePresets.trafficQueries(names: names, scope: scope).samplesPerTenMinutes, client: client,
                at: [to, from.addingTimeInterval(to.timeIntervalSince(from) / 2)]) ?? scrapeInterval
        let step = max(requested, resolution)
        let queries = EnginePresets.trafficQueries(names: names, scope: scope, window: max(step, 4 * resolution))
        guard let requestQuery = queries.requestRate else {
            throw ReadError(description: "engine \(engine.rawValue) has no request counter to replay")
        }
        let steps = Int(((to.timeIntervalSince(from)) / step).rounded(.down))
        guard steps >= 1 else { throw ReadError(description: "the range is shorter than one step") }
        let first = from.timeIntervalSince1970 + step
        var recording = PrometheusRecording(
            start: first, step: step, resolution: resolution, requestRate: [], promptTokenRate: [],
            generatedTokenRate: [], pods: [], waiting: [])
        let reads: [(String, String?, WritableKeyPath<PrometheusRecording, [Double?]>)] = [
            ("requests per second", requestQuery, \.requestRate),
            ("prompt tokens per second", queries.promptTokenRate, \.promptTokenRate),
            ("generated tokens per second", queries.generatedTokenRate, \.generatedTokenRate),
            ("pods serving", queries.pods, \.pods),
            ("requests waiting", queries.waiting, \.waiting),
        ]
        for (what, query, path) in reads {
            guard let query else {
                recording[keyPath: path] = Array(repeating: nil, count: steps)
                continue
            }
            recording[keyPath: path] = try await series(
                query, what: what, client: client, first: first, step: step, steps: steps)
        }
        guard recording.requestRate.contains(where: { $0 != nil }) else {
            throw ReadError(
                description:
                    "no request counter of engine \(engine.rawValue) in namespace \(scope.namespace) in the range "
                    + "(looked for: \(requestQuery))")
        }
        // Prometheus scraping anything while the workload has no series: the workload had no pods then.
        let scraping = try await series(
            "count(up)", what: "Prometheus' own targets", client: client, first: first, step: step, steps: steps)
        for index in 0..<steps where recording.requestRate[index] == nil && recording.pods[index] == nil {
            guard scraping[index] != nil else { continue }
            recording.requestRate[index] = 0
            recording.pods[index] = 0
        }
        let firstData = recording.requestRate.firstIndex { $0 != nil }!
        let lastData = recording.requestRate.lastIndex { $0 != nil }!
        return recording.steps(firstData..<lastData + 1)
    }

    /// Seconds between samples, from the first of `times` at which the workload has a counter: n samples in ten
    /// minutes (a pod started within them has fewer, never more) put the interval between 600/n and 600/(n-1) s, as
    /// a range selector includes both ends; the usual scrape interval in that span, else its long end, which only
    /// widens the rates.
    private static func resolution(_ query: String?, client: PrometheusQueryClient, at times: [Date]) async -> Double? {
        guard let query else { return nil }
        for time in times {
            if case .success(let samples) = await client.value(query, at: time, maxAge: .infinity), samples >= 2 {
                let (short, long) = (600 / samples, 600 / (samples - 1))
                let usual: [Double] = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600]
                return usual.first { $0 >= short - 1e-9 && $0 <= long + 1e-9 } ?? long.rounded(.up)
            }
        }
        return nil
    }

    /// One value per step (nil where there is none): the single series the query gives.
    private static func series(
        _ query: String, what: String, client: PrometheusQueryClient, first: Double, step: Double, steps: Int
    ) async throws(ReadError) -> [Double?] {
        var values = [Double?](repeating: nil, count: steps)
        var index = 0
        while index < steps {
            let count = min(pointsPerQuery, steps - index)
            let start = Date(timeIntervalSince1970: first + Double(index) * step)
            let end = Date(timeIntervalSince1970: first + Double(index + count - 1) * step)
            switch await client.range(query, from: start, to: end, step: step) {
            case .failure(let error):
                throw ReadError(description: "\(what): \(error.message)")
            case .success(let answer):
                if answer.count > 1 {
                    throw ReadError(description: "\(what): \(answer.count) series where one was expected")
                }
                for (time, value) in answer.first?.samples ?? [] where value.isFinite {
                    let slot = Int(((time - first) / step).rounded())
                    if slot >= 0, slot < steps { values[slot] = value }
                }
            }
            index += count
        }
        return values
    }
}

extension PrometheusRecording {
    /// The share of the workload's first tokens within `slo` seconds over the `window` seconds before `end`, from its
    /// TTFT histogram (the same buckets the controller reads); nil when it exports none.
    public static func attainment(
        client: PrometheusQueryClient, engine: Engine, scope: PodScope, end: Date, window: Double, slo: Double
    ) async -> Double? {
        let queries = EnginePresets.trafficQueries(
            names: EnginePresets.names(for: engine), scope: scope, window: window)
        guard let query = queries.ttftBuckets,
            case .success(let buckets) = await client.vector(query, at: end, of: "TTFT buckets"),
            case .value(let share) = SignalReader.share(of: buckets, atOrBelow: slo)
        else { return nil }
        return share
    }
}
