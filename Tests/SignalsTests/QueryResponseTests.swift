import CurlHTTP
import Foundation
import Testing

@testable import Signals

/// Every edge case of a Prometheus answer has its own outcome; none becomes 0.
@Suite struct QueryResponseTests {
    static let now = 1_800_000_000.0

    static func parse(_ json: String, status: Int = 200) -> Result<QueryResponse, PrometheusError> {
        QueryResponse.parse(Data(json.utf8), httpStatus: status)
    }

    static func value(_ json: String, status: Int = 200) -> Result<Double, PrometheusError> {
        parse(json, status: status).flatMap { $0.singleValue(now: now, maxAge: 60) }
    }

    static func vector(_ values: [String], at time: Double = now) -> String {
        let series = values.enumerated().map { index, value in
            #"{"metric":{"pod":"vllm-\#(index)"},"value":[\#(time),"\#(value)"]}"#
        }
        return #"{"status":"success","data":{"resultType":"vector","result":[\#(series.joined(separator: ","))]}}"#
    }

    @Test func oneSeriesGivesItsValue() {
        #expect(Self.value(Self.vector(["21"])) == .success(21))
        #expect(Self.value(Self.vector(["0"])) == .success(0))
        #expect(Self.value(Self.vector(["1e-3"])) == .success(0.001))
    }

    @Test func aScalarGivesItsValue() {
        let json = #"{"status":"success","data":{"resultType":"scalar","result":[1800000000,"3.5"]}}"#
        #expect(Self.value(json) == .success(3.5))
    }

    @Test(arguments: [
        (vector([]), PrometheusError.Code.emptyResult),
        (vector(["1", "2"]), .multipleSeries(2)),
        (vector(["NaN"]), .notANumber),
        (vector(["+Inf"]), .infinite),
        (vector(["-Inf"]), .infinite),
        (vector(["5"], at: now - 300), .stale),
        (#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#, .malformed),
        (#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1]}]}}"#, .malformed),
        ("<html>proxy error</html>", .malformed),
    ])
    func unusableAnswers(_ json: String, _ code: PrometheusError.Code) {
        guard case .failure(let error) = Self.value(json) else {
            Issue.record("expected \(code), got a value")
            return
        }
        #expect(error.code == code)
    }

    @Test func anErrorBodyIsSurfacedWithItsType() {
        let json = #"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected \"}\""}"#
        guard case .failure(let error) = Self.parse(json, status: 400) else {
            Issue.record("expected an error")
            return
        }
        #expect(error.code == .queryFailed)
        #expect(error.message == #"Prometheus bad_data error: 1:5: parse error: unexpected "}""#)
        let timeout = Self.parse(
            #"{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}"#, status: 503
        )
        #expect((try? timeout.get()) == nil)
        if case .failure(let error) = timeout { #expect(error.code == .timedOut) }
    }

    @Test func aNon2xxWithoutAPrometheusBodyNamesTheStatus() {
        guard case .failure(let error) = Self.parse("Unauthorized\n", status: 401) else {
            Issue.record("expected an error")
            return
        }
        #expect(error.code == .httpStatus(401))
        #expect(error.message == "HTTP 401: Unauthorized")
    }

    @Test func warningsAreKept() throws {
        let json = #"{"status":"success","warnings":["partial response"],"data":{"resultType":"vector","result":[]}}"#
        #expect(try Self.parse(json).get().warnings == ["partial response"])
    }

    @Test func labelsAndTimestampsAreParsed() throws {
        let response = try Self.parse(Self.vector(["7"], at: 1_800_000_000.5)).get()
        #expect(
            response.result == .vector([VectorSample(labels: ["pod": "vllm-0"], timestamp: 1_800_000_000.5, value: 7)]))
    }
}

/// What the client sends: TLS trust, credentials, tenant headers, POST for long queries.
@Suite struct QueryRequestTests {
    final class Recorder: HTTPTransport, @unchecked Sendable {
        var requests: [HTTPRequest] = []
        var statuses: [Int]

        init(statuses: [Int]) { self.statuses = statuses }

        func send(_ request: HTTPRequest) async throws -> HTTPResponse {
            requests.append(request)
            let status = statuses.isEmpty ? 200 : statuses.removeFirst()
            let body = status == 200 ? #"{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}"# : "no"
            return HTTPResponse(status: status, headers: HTTPHeaders(), body: Data(body.utf8))
        }

        func stream(_ request: HTTPRequest) async throws -> HTTPStreamingResponse { fatalError("not used") }
    }

    final class TokenFile: @unchecked Sendable {
        var refreshes = 0
        func token(_ refresh: Bool) -> String {
            if refresh { refreshes += 1 }
            return refreshes == 0 ? "old" : "new"
        }
    }

    @Test func headersCredentialsAndTheQueryParameters() async throws {
        let recorder = Recorder(statuses: [])
        let client = PrometheusQueryClient(
            configuration: .init(
                address: URL(string: "https://mimir.example/prometheus/")!, timeout: 2.5,
                authorization: .basic(username: "u", password: "p"), headers: ["X-Scope-OrgID": "team-a"]),
            transport: recorder)
        let result = await client.query(#"sum(x{a="b c"})"#, at: Date(timeIntervalSince1970: 1_800_000_000))
        #expect((try? result.get())?.result == .scalar(timestamp: 1, value: 2))
        let request = try #require(recorder.requests.first)
        #expect(request.method == "GET")
        #expect(
            request.url.absoluteString
                == "https://mimir.example/prometheus/api/v1/query?query=sum%28x%7Ba%3D%22b%20c%22%7D%29&timeout=2500ms&time=1800000000.000"
        )
        #expect(request.headers["X-Scope-OrgID"] == "team-a")
        #expect(request.headers["Authorization"] == "Basic dTpw")
        #expect(request.timeout == 3.5)
    }

    @Test func longQueriesArePosted() async throws {
        let recorder = Recorder(statuses: [])
        let client = PrometheusQueryClient(
            configuration: .init(address: URL(string: "http://p:9090")!), transport: recorder)
        _ = await client.query(String(repeating: "vector(1) + ", count: 300) + "vector(1)")
        let request = try #require(recorder.requests.first)
        #expect(request.method == "POST")
        #expect(request.url.absoluteString == "http://p:9090/api/v1/query")
        #expect(request.headers["Content-Type"] == "application/x-www-form-urlencoded")
        #expect(String(decoding: request.body ?? Data(), as: UTF8.self).hasPrefix("query=vector%281%29%20%2B%20"))
    }

    @Test func a401ReadsTheTokenAgainOnce() async throws {
        let recorder = Recorder(statuses: [401, 401])
        let tokens = TokenFile()
        let client = PrometheusQueryClient(
            configuration: .init(address: URL(string: "http://p:9090")!, authorization: .bearer { tokens.token($0) }),
            transport: recorder)
        let result = await client.query("up")
        #expect(recorder.requests.map { $0.headers["Authorization"] } == ["Bearer old", "Bearer new"])
        #expect(tokens.refreshes == 1)
        guard case .failure(let error) = result else {
            Issue.record("a second 401 gave a value")
            return
        }
        #expect(error.code == .httpStatus(401))
    }
}
