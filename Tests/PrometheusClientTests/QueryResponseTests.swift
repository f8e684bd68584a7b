import Foundation
import Testing

@testable import PrometheusClient

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
        let timeout = Self.parse(#"{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}"#, status: 503)
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
        #expect(response.result == .vector([VectorSample(labels: ["pod": "vllm-0"], timestamp: 1_800_000_000.5, value: 7)]))
    }
}
