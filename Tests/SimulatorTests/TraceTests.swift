import Foundation
import Testing

@testable import Simulator

/// The shared traces (`../shared/traces`, beside this repository), loaded and replayed.
@Suite struct TraceTests {
    static let traces = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/traces")

    static func path(_ name: String) -> String { traces.appendingPathComponent(name).path }

    @Test func perRequestTracesReplayEveryRequestInOrder() throws {
        let trace = try Trace.load(Self.path("azure2023_code.csv"))
        guard case .requests(let requests) = trace else {
            Issue.record("expected per-request data")
            return
        }
        #expect(requests.count == 8819)
        #expect(requests.first?.arrival == 0)
        #expect(requests.first?.inputTokens == 4808)
        #expect(requests.first?.outputTokens == 10)
        // 57 minutes: 18:17:03.98 to 19:14.
        #expect(trace.span > 3400 && trace.span < 3480)
        let replayed = Array(RequestStream(trace))
        #expect(replayed == requests)
        #expect(zip(replayed, replayed.dropFirst()).allSatisfy { $0.arrival <= $1.arrival })
        // The README's figures: mean 2.57 req/s, peak 67 in one second.
        #expect(abs(Double(requests.count) / trace.span - 2.57) < 0.05)
        #expect(trace.peakRate(window: 1) == 67)
    }

    @Test(arguments: [0.5, 2.0, 3.3])
    func rateScaleThinsOrReplicatesDeterministically(_ scale: Double) throws {
        let trace = try Trace.load(Self.path("azure2023_conv.csv"))
        let options = ReplayOptions(rateScale: scale, seed: 42)
        let first = Array(RequestStream(trace, options: options))
        let second = Array(RequestStream(trace, options: options))
        #expect(first == second)
        #expect(abs(Double(first.count) / (19366 * scale) - 1) < 0.03)
        #expect(zip(first, first.dropFirst()).allSatisfy { $0.arrival <= $1.arrival })
        let other = Array(RequestStream(trace, options: ReplayOptions(rateScale: scale, seed: 43)))
        #expect(other != first)
    }

    @Test func aWindowIsCutAndShiftedToZero() throws {
        let trace = try Trace.load(Self.path("azure2023_conv.csv"))
        let cut = Array(RequestStream(trace, options: ReplayOptions(start: 600, duration: 300)))
        guard case .requests(let all) = trace else { return }
        #expect(cut.count == all.filter { $0.arrival >= 600 && $0.arrival < 900 }.count)
        #expect(cut.allSatisfy { $0.arrival >= 0 && $0.arrival < 300 })
    }

    @Test func perSecondRatesKeepTheirCountsAndTokens() throws {
        let trace = try Trace.load(Self.path("azure2023_code_rate_1s.csv"))
        let requests = Array(RequestStream(trace, options: ReplayOptions(seed: 7)))
        // A Gamma process per second gives the same count on average, not exactly.
        #expect(abs(Double(requests.count) / 8819 - 1) < 0.1)
        let firstSecond = requests.filter { $0.arrival < 1 }
        // Second 0 has 7 requests with 22,924 input tokens: the synthesised ones carry that mean.
        #expect(firstSecond.allSatisfy { $0.inputTokens == 3275 })
    }

    @Test func serveGenWindowsSkipGapsAndFollowTheirRate() throws {
        let trace = try Trace.load(Self.path("servegen_m-mid_rate_600s.csv"))
        guard case .rates(let segments) = trace else {
            Issue.record("expected rates")
            return
        }
        #expect(segments.count == 2016 - 84)
        #expect(segments.allSatisfy { $0.duration == 600 })
        // One hour at a 1/100 scale: about rate × 3600 / 100 requests.
        let options = ReplayOptions(rateScale: 0.01, start: 0, duration: 3600, seed: 3)
        let expected = segments.filter { $0.start < 3600 }.reduce(0) { $0 + $1.requestsPerSecond * 0.01 * $1.duration }
        let requests = Array(RequestStream(trace, options: options))
        #expect(abs(Double(requests.count) / expected - 1) < 0.15, "\(requests.count) vs \(expected)")
        #expect(requests.allSatisfy { $0.arrival < 3600 && $0.inputTokens >= 1 && $0.outputTokens >= 1 })
    }

    @Test func burstyWindowsAreBurstierThanPoisson() {
        func cv(_ gaps: [Double]) -> Double {
            let mean = gaps.reduce(0, +) / Double(gaps.count)
            let variance = gaps.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(gaps.count)
            return sqrt(variance) / mean
        }
        let segment = RateSegment(
            start: 0, duration: 10000, requestsPerSecond: 5, interArrivalCV: 4, meanInputTokens: 100,
            meanOutputTokens: 10)
        let arrivals = Array(RequestStream(.rates([segment]), options: ReplayOptions(seed: 11))).map(\.arrival)
        let gaps = zip(arrivals.dropFirst(), arrivals).map { $0 - $1 }
        #expect(abs(cv(gaps) - 4) < 0.6, "\(cv(gaps))")
        #expect(abs(Double(arrivals.count) / 50000 - 1) < 0.1)
    }

    @Test func theAzure2024CurveIsARateCurve() throws {
        let trace = try Trace.load(Self.path("azure2024_conv_per7min_digitized.csv"))
        guard case .rates(let segments) = trace else {
            Issue.record("expected a rate curve")
            return
        }
        #expect(segments.count == 1396)
        // README: mean 45.2 req/s over the week.
        let total = segments.reduce(0) { $0 + $1.requestsPerSecond * $1.duration }
        #expect(abs(total / trace.span - 45.2) < 1)
        #expect(segments.allSatisfy { $0.meanInputTokens == 1155 && $0.meanOutputTokens == 211 })
    }

    /// A curve without token counts gets the mix of the workload its file names, not always the conversation one.
    @Test(arguments: [
        ("traces/azure2024_code_per7min.csv", 2048.0, 28.0), ("traces/azure2024_conv_per7min.csv", 1155.0, 211.0),
        ("traces/CODE_week.csv", 2048.0, 28.0), ("traces/week.csv", 1155.0, 211.0),
        ("code/azure2024_conv.csv", 1155.0, 211.0),
    ])
    func curvesWithoutTokensGetTheirWorkloadsMix(name: String, input: Double, output: Double) throws {
        let text = "timestamp_s,requests_per_min_mid\n0,600\n420,1200\n"
        guard case .rates(let segments) = try Trace.parse(text, name: name) else {
            Issue.record("expected a rate curve")
            return
        }
        #expect(segments.map(\.requestsPerSecond) == [10, 20])
        #expect(segments.allSatisfy { $0.meanInputTokens == input && $0.meanOutputTokens == output })
    }

    @Test(arguments: ["", "a,b\n1,2\n", "TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,1,2\n"])
    func badFilesSayWhatIsWrong(_ text: String) {
        #expect(throws: Trace.FormatError.self) { try Trace.parse(text, name: "t.csv") }
    }
}
