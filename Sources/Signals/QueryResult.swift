import Foundation

/// One series of an instant vector: its labels and its sample.
public struct VectorSample: Sendable, Equatable {
    public var labels: [String: String]
    /// Seconds since 1970 of the sample.
    public var timestamp: Double
    public var value: Double

    public init(labels: [String: String], timestamp: Double, value: Double) {
        self.labels = labels
        self.timestamp = timestamp
        self.value = value
    }
}

/// The `data` of a successful `/api/v1/query`.
public enum QueryResult: Sendable, Equatable {
    case vector([VectorSample])
    case scalar(timestamp: Double, value: Double)
}

/// One series of a range query: its labels and its samples, oldest first.
public struct RangeSeries: Sendable {
    public var labels: [String: String]
    /// (seconds since 1970, value).
    public var samples: [(time: Double, value: Double)]

    public init(labels: [String: String], samples: [(time: Double, value: Double)]) {
        self.labels = labels
        self.samples = samples
    }

    /// Parses the JSON body of `/api/v1/query_range`: a matrix.
    public static func parse(_ body: Data, httpStatus: Int) -> Result<[RangeSeries], PrometheusError> {
        // Errors read as for instant queries; only the success shape differs.
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            object["status"] as? String == "success", (200..<300).contains(httpStatus)
        else {
            return QueryResponse.parse(body, httpStatus: httpStatus).flatMap { _ in
                .failure(PrometheusError(.malformed, "a range query answered without a matrix"))
            }
        }
        guard let data = object["data"] as? [String: Any], data["resultType"] as? String == "matrix",
            let entries = data["result"] as? [[String: Any]]
        else {
            return .failure(PrometheusError(.malformed, "a range query answered without a matrix"))
        }
        var series: [RangeSeries] = []
        for entry in entries {
            var samples: [(time: Double, value: Double)] = []
            for pair in entry["values"] as? [[Any]] ?? [] {
                guard let sample = QueryResponse.parsePair(pair) else {
                    return .failure(PrometheusError(.malformed, "a matrix sample that is not a [time, value] pair"))
                }
                samples.append((sample.0, sample.1))
            }
            series.append(RangeSeries(labels: entry["metric"] as? [String: String] ?? [:], samples: samples))
        }
        return .success(series)
    }
}

/// A successful answer with the warnings Prometheus attached (partial data from a Thanos store, say).
public struct QueryResponse: Sendable, Equatable {
    public var result: QueryResult
    public var warnings: [String]
}

/// Why a query gave no usable number. Every case is an explicit outcome: none of them becomes 0.
public struct PrometheusError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// Prometheus answered `status: error` (`errorType` is in `detail`: bad_data, timeout, execution, …).
        case queryFailed
        /// A non-2xx answer without a Prometheus error body (a proxy, an auth failure).
        case httpStatus(Int)
        /// The query matched no series.
        case emptyResult
        /// One number was expected and several series came back.
        case multipleSeries(Int)
        case notANumber
        case infinite
        /// The newest sample is older than allowed.
        case stale
        case timedOut
        case connectionRefused
        /// TLS, DNS, a cut connection.
        case transport
        /// A matrix or string result, or a body that is not Prometheus' JSON.
        case malformed
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

extension QueryResponse {
    /// Parses the JSON body of `/api/v1/query` (any HTTP status: Prometheus sends its error body with 4xx/5xx).
    public static func parse(_ body: Data, httpStatus: Int) -> Result<QueryResponse, PrometheusError> {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            if !(200..<300).contains(httpStatus) {
                let text = String(decoding: body.prefix(200), as: UTF8.self).trimmingCharacters(
                    in: .whitespacesAndNewlines)
                return .failure(
                    PrometheusError(.httpStatus(httpStatus), "HTTP \(httpStatus)\(text.isEmpty ? "" : ": \(text)")"))
            }
            return .failure(PrometheusError(.malformed, "the answer is not Prometheus query JSON"))
        }
        let warnings = object["warnings"] as? [String] ?? []
        if object["status"] as? String == "error" {
            let type = object["errorType"] as? String ?? "unknown"
            let text = object["error"] as? String ?? "no message"
            let code: PrometheusError.Code = type == "timeout" ? .timedOut : .queryFailed
            return .failure(PrometheusError(code, "Prometheus \(type) error: \(text)"))
        }
        guard (200..<300).contains(httpStatus) else {
            return .failure(PrometheusError(.httpStatus(httpStatus), "HTTP \(httpStatus)"))
        }
        guard object["status"] as? String == "success", let data = object["data"] as? [String: Any],
            let type = data["resultType"] as? String
        else {
            return .failure(PrometheusError(.malformed, "the answer has no status/data/resultType"))
        }
        switch type {
        case "vector":
            guard let series = data["result"] as? [[String: Any]] else {
                return .failure(PrometheusError(.malformed, "a vector result that is not a list"))
            }
            var samples: [VectorSample] = []
            for entry in series {
                let labels = entry["metric"] as? [String: String] ?? [:]
                guard let pair = entry["value"] as? [Any], let sample = parsePair(pair) else {
                    return .failure(PrometheusError(.malformed, "a series without a [time, value] pair"))
                }
                samples.append(VectorSample(labels: labels, timestamp: sample.0, value: sample.1))
            }
            return .success(QueryResponse(result: .vector(samples), warnings: warnings))
        case "scalar":
            guard let pair = data["result"] as? [Any], let sample = parsePair(pair) else {
                return .failure(PrometheusError(.malformed, "a scalar result without a [time, value] pair"))
            }
            return .success(QueryResponse(result: .scalar(timestamp: sample.0, value: sample.1), warnings: warnings))
        default:
            return .failure(
                PrometheusError(
                    .malformed, "result type \(type) is not an instant vector or scalar; the query must give one number"
                ))
        }
    }

    /// `[1700000000.123, "21"]`; values are strings so that NaN and ±Inf survive JSON.
    static func parsePair(_ pair: [Any]) -> (Double, Double)? {
        guard pair.count == 2, let time = (pair[0] as? NSNumber)?.doubleValue, let text = pair[1] as? String else {
            return nil
        }
        switch text {
        case "NaN": return (time, .nan)
        case "+Inf", "Inf": return (time, .infinity)
        case "-Inf": return (time, -.infinity)
        default: return Double(text).map { (time, $0) }
        }
    }

    /// The single number this answer holds, or why there is none.
    ///
    /// - Parameters:
    ///   - now: seconds since 1970, to judge staleness.
    ///   - maxAge: the oldest acceptable sample, in seconds.
    public func singleValue(now: Double, maxAge: Double) -> Result<Double, PrometheusError> {
        let timestamp: Double
        let value: Double
        switch result {
        case .scalar(let time, let number):
            (timestamp, value) = (time, number)
        case .vector(let samples):
            guard let first = samples.first else {
                return .failure(PrometheusError(.emptyResult, "no series matched"))
            }
            guard samples.count == 1 else {
                let shown = samples.prefix(3).map {
                    $0.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",")
                }
                return .failure(
                    PrometheusError(
                        .multipleSeries(samples.count),
                        "\(samples.count) series where one was expected (aggregate the query): {\(shown.joined(separator: "}, {"))}"
                    ))
            }
            (timestamp, value) = (first.timestamp, first.value)
        }
        if value.isNaN { return .failure(PrometheusError(.notANumber, "the value is NaN")) }
        if value.isInfinite {
            return .failure(PrometheusError(.infinite, "the value is \(value > 0 ? "+Inf" : "-Inf")"))
        }
        if now - timestamp > maxAge {
            return .failure(
                PrometheusError(.stale, "the newest sample is \(Int(now - timestamp)) s old (limit \(Int(maxAge)) s)"))
        }
        return .success(value)
    }
}
