import CurlHTTP
import Foundation

/// Instant queries against Prometheus' HTTP API (`/api/v1/query`), which Thanos, Mimir and VictoriaMetrics serve too.
public final class PrometheusQueryClient: Sendable {
    public enum Authorization: Sendable {
        case none
        /// A bearer token, asked for on every query (so a token file or Secret can be re-read when it rotates);
        /// `refresh` is true after a 401.
        case bearer(@Sendable (_ refresh: Bool) async throws -> String)
        /// A username and password, asked for on every query like a bearer token.
        case basic(@Sendable (_ refresh: Bool) async throws -> (username: String, password: String))

        /// Fixed credentials.
        public static func basic(username: String, password: String) -> Authorization {
            .basic { _ in (username, password) }
        }

        var canRefresh: Bool {
            if case .none = self { false } else { true }
        }
    }

    public struct Configuration: Sendable {
        /// The server's base URL; a path prefix is kept (`https://mimir.example/prometheus`).
        public var address: URL
        /// Seconds; sent as the query's `timeout` and bounds the HTTP exchange.
        public var timeout: Double
        public var tls: TLSSettings
        public var authorization: Authorization
        /// Extra headers, e.g. `X-Scope-OrgID` for a Mimir or Cortex tenant.
        public var headers: [String: String]
        /// Told of every query (whether it gave an answer, seconds), for metrics.
        public var observer: (@Sendable (_ succeeded: Bool, _ seconds: Double) -> Void)?

        public init(
            address: URL, timeout: Double = 5, tls: TLSSettings = TLSSettings(), authorization: Authorization = .none,
            headers: [String: String] = [:], observer: (@Sendable (_ succeeded: Bool, _ seconds: Double) -> Void)? = nil
        ) {
            self.address = address
            self.timeout = timeout
            self.tls = tls
            self.authorization = authorization
            self.headers = headers
            self.observer = observer
        }
    }

    /// Queries longer than this go as a POST form, as URLs have length limits in proxies.
    static let longestGetQuery = 2000

    public let configuration: Configuration
    private let transport: any HTTPTransport

    public init(configuration: Configuration, transport: (any HTTPTransport)? = nil) {
        self.configuration = configuration
        self.transport = transport ?? CurlHTTPClient(tls: configuration.tls)
    }

    /// Runs an instant query at `time` (the server's now when nil).
    public func query(_ promql: String, at time: Date? = nil) async -> Result<QueryResponse, PrometheusError> {
        await observed { await perform(promql, at: time) }
    }

    /// `run`, reported to the observer with its outcome and duration.
    private func observed<Answer>(
        _ run: () async -> Result<Answer, PrometheusError>
    ) async -> Result<Answer, PrometheusError> {
        let started = ContinuousClock.now
        let result = await run()
        if let observer = configuration.observer {
            let succeeded = if case .success = result { true } else { false }
            observer(succeeded, (ContinuousClock.now - started).seconds)
        }
        return result
    }

    private func perform(_ promql: String, at time: Date?) async -> Result<QueryResponse, PrometheusError> {
        var parameters = [("query", promql), ("timeout", Self.seconds(configuration.timeout))]
        if let time { parameters.append(("time", String(format: "%.3f", time.timeIntervalSince1970))) }
        return await send("/api/v1/query", parameters).flatMap { QueryResponse.parse($0.body, httpStatus: $0.status) }
    }

    /// Runs a range query: one sample per `step` seconds from `start` to `end` (inclusive), per series.
    public func range(
        _ promql: String, from start: Date, to end: Date, step: Double
    ) async -> Result<[RangeSeries], PrometheusError> {
        let parameters = [
            ("query", promql), ("start", String(format: "%.3f", start.timeIntervalSince1970)),
            ("end", String(format: "%.3f", end.timeIntervalSince1970)), ("step", Self.seconds(step)),
            ("timeout", Self.seconds(configuration.timeout)),
        ]
        return await observed {
            await send("/api/v1/query_range", parameters).flatMap { RangeSeries.parse($0.body, httpStatus: $0.status) }
        }
    }

    /// A form to one of the query endpoints, with the configured headers and credentials (refreshed once on 401).
    private func send(_ path: String, _ parameters: [(String, String)]) async -> Result<HTTPResponse, PrometheusError> {
        let form = PercentEncoding.query(parameters)
        var base = configuration.address.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        let usePost = form.utf8.count > Self.longestGetQuery
        guard let url = URL(string: base + path + (usePost ? "" : "?" + form)) else {
            return .failure(PrometheusError(.malformed, "invalid Prometheus address \(configuration.address)"))
        }
        var request = HTTPRequest(method: usePost ? "POST" : "GET", url: url, timeout: configuration.timeout + 1)
        if usePost {
            request.body = Data(form.utf8)
            request.headers.add("Content-Type", "application/x-www-form-urlencoded")
        }
        request.headers.add("Accept", "application/json")
        for (name, value) in configuration.headers.sorted(by: { $0.key < $1.key }) { request.headers.add(name, value) }

        var refreshed = false
        while true {
            do {
                switch configuration.authorization {
                case .none:
                    break
                case .bearer(let token):
                    request.headers.set("Authorization", "Bearer \(try await token(refreshed))")
                case .basic(let credentials):
                    let (username, password) = try await credentials(refreshed)
                    request.headers.set(
                        "Authorization", "Basic \(Data("\(username):\(password)".utf8).base64EncodedString())")
                }
                let response = try await transport.send(request)
                if response.status == 401, !refreshed, configuration.authorization.canRefresh {
                    refreshed = true
                    continue
                }
                return .success(response)
            } catch let error as HTTPClientError {
                return .failure(Self.failure(error))
            } catch is CancellationError {
                return .failure(PrometheusError(.transport, "cancelled"))
            } catch {
                return .failure(PrometheusError(.transport, "cannot authenticate to Prometheus: \(error)"))
            }
        }
    }

    /// The series a query gives (an instant vector, empty when nothing matched), or why there are none; `what` names
    /// the series in the message for a scalar answer.
    public func vector(
        _ promql: String, at time: Date, of what: String
    ) async -> Result<[VectorSample], PrometheusError> {
        await query(promql, at: time).flatMap { response in
            guard case .vector(let samples) = response.result else {
                return .failure(PrometheusError(.malformed, "expected \(what), got a scalar"))
            }
            return .success(samples)
        }
    }

    /// The single number a query gives, or why there is none.
    public func value(_ promql: String, at time: Date, maxAge: Double = 120) async -> Result<Double, PrometheusError> {
        await query(promql, at: time).flatMap { $0.singleValue(now: time.timeIntervalSince1970, maxAge: maxAge) }
    }

    static func failure(_ error: HTTPClientError) -> PrometheusError {
        switch error.code {
        case .couldNotConnect: PrometheusError(.connectionRefused, "cannot connect to Prometheus: \(error.message)")
        case .timedOut: PrometheusError(.timedOut, "Prometheus did not answer in time: \(error.message)")
        default: PrometheusError(.transport, "Prometheus request failed: \(error.message)")
        }
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value))s" : "\(Int((value * 1000).rounded()))ms"
    }
}
