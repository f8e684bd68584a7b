import AutoscalerCore
import Testing

@testable import Signals

/// The planner's share of first tokens within the target, from `sum by (le)` of the TTFT buckets as Prometheus
/// answers it: `le` as text, in any order, `+Inf` the total.
@Suite struct BucketShareTests {
    static func buckets(_ pairs: [(String, Double)]) -> [VectorSample] {
        pairs.map { VectorSample(labels: ["le": $0.0], timestamp: 0, value: $0.1) }
    }

    @Test func theShareIsInterpolatedInsideTheTargetsBucket() {
        // vLLM has no 2 s bucket: 2 s lies in (1, 2.5], 20 of whose 30 requests count as within (linear).
        let answer = Self.buckets([("2.5", 90), ("+Inf", 100), ("0.5", 40), ("1.0", 60)])
        #expect(SignalReader.share(of: answer, atOrBelow: 2) == .value(0.8))
    }

    @Test func noRequestInTheWindowMissedNothing() {
        #expect(SignalReader.share(of: Self.buckets([("1.0", 0), ("+Inf", 0)]), atOrBelow: 2) == .value(1))
    }

    static let broken: [[(String, Double)]] = [
        [("1.0", 5)], [("1.0", 5), ("+Inf", Double.nan)], [("one", 5), ("+Inf", 6)], [("1.0", 7), ("+Inf", 6)],
    ]

    /// No `+Inf`, a NaN total, an `le` that is no number, a bound counting more than the total.
    @Test(arguments: 0..<4)
    func brokenBucketsAreMissing(index: Int) {
        let pairs = Self.broken[index]
        guard case .missing = SignalReader.share(of: Self.buckets(pairs), atOrBelow: 2) else {
            Issue.record("\(pairs) gave a share")
            return
        }
    }
}
