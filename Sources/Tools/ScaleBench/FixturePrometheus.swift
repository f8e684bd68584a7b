import Foundation
import MetricsFixture
import Synchronization

/// A stand-in for Prometheus' query API, fast and countable: the real Prometheus is not what this benchmark measures.
/// Every instant query gets one sample: `hot` when its selector names a pod marked hot, else `steady`.
final class FixturePrometheus: Sendable {
    struct State {
        var hotPods: Set<String> = []
        var queries = 0
        /// The pods of each namespace, for queries `by (namespace, pod)`.
        var pods: [String: [String]] = [:]
    }

    let state = Mutex(State())
    let steady: Double
    let hot: Double
    /// Each answer's steady value moves by up to this much either way (0: constant).
    let jitter: Double

    init(steady: Double, hot: Double, jitter: Double = 0) {
        self.steady = steady
        self.hot = hot
        self.jitter = jitter
    }

    private var steadyNow: Double { jitter > 0 ? steady + Double.random(in: -jitter...jitter) : steady }

    /// Serves the query API on a free loopback port, until the server is stopped.
    func serve() async throws -> LoopbackHTTPServer {
        try await LoopbackHTTPServer.start(backlog: 512) { request in
            .init(contentType: "application/json", body: self.answer(request.parameter("query") ?? ""))
        }
    }

    /// One sample per pod of the namespace for a query `by (namespace, pod)`; else one sample, hot when the query's
    /// pod regex names a hot pod.
    func answer(_ query: String) -> String {
        let time = String(format: "%.3f", Date().timeIntervalSince1970)
        if query.hasPrefix("group by (__name__)"), let names = Self.names(in: query) {
            // Which metric names exist: the simulated pods export every one asked about.
            state.withLock { $0.queries += 1 }
            let samples = names.map { #"{"metric":{"__name__":"\#($0)"},"value":[\#(time),"1"]}"# }
            return #"{"status":"success","data":{"resultType":"vector","result":["#
                + samples.joined(separator: ",") + "]}}"
        }
        if query.contains("by (namespace, pod)"), let namespace = Self.namespace(in: query) {
            let (pods, hotPods) = state.withLock { state in
                state.queries += 1
                return (state.pods[namespace] ?? [], state.hotPods)
            }
            let samples = pods.map { pod in
                let value = hotPods.contains(pod) ? hot : steadyNow
                return #"{"metric":{"namespace":"\#(namespace)","pod":"\#(pod)"},"value":[\#(time),"\#(value)"]}"#
            }
            return #"{"status":"success","data":{"resultType":"vector","result":["#
                + samples.joined(separator: ",") + "]}}"
        }
        let isHot = state.withLock { state -> Bool in
            state.queries += 1
            return state.hotPods.contains { query.contains($0) }
        }
        let value = isHot ? hot : steadyNow
        return
            #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[\#(time),"\#(value)"]}]}}"#
    }

    /// The alternatives of a `__name__=~"a|b"` matcher (the engines' names hold no character a regex escapes).
    static func names(in query: String) -> [String]? {
        guard let start = query.range(of: #"__name__=~""#) else { return nil }
        let rest = query[start.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return rest[..<end].split(separator: "|").map(String.init)
    }

    static func namespace(in query: String) -> String? {
        guard let start = query.range(of: #"namespace=""#) else { return nil }
        let rest = query[start.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }
}
