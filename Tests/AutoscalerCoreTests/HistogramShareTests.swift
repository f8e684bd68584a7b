import Testing

@testable import AutoscalerCore

/// The share of a classic histogram's observations within a value, interpolated as `histogram_quantile` does.
@Suite struct HistogramShareTests {
    // Buckets 0.5, 1, 2.5 and +Inf holding 10, 30, 36, 40 (cumulative).
    static let bounds = [0.5, 1.0, 2.5]
    static let counts = [10.0, 30, 36, 40]

    /// On a bound: what it counts. Inside a bucket: linear, the first bucket from 0. Beyond the highest finite
    /// bound only what it counts is known to be within.
    static let cases: [(value: Double, share: Double)] = [
        (1.0, 0.75), (0.25, 0.125), (2.0, 34.0 / 40), (0.0, 0.0), (10.0, 0.9),
    ]

    @Test(arguments: 0..<5)
    func shares(index: Int) {
        let (value, expected) = Self.cases[index]
        let share = HistogramShare.atOrBelow(value, bounds: Self.bounds, cumulative: Self.counts)
        #expect(abs((share ?? -1) - expected) < 1e-12)
    }

    @Test func nothingCountedOrMismatchedIsNoShare() {
        #expect(HistogramShare.atOrBelow(1, bounds: Self.bounds, cumulative: [0, 0, 0, 0]) == nil)
        #expect(HistogramShare.atOrBelow(1, bounds: Self.bounds, cumulative: [1, 2, 3]) == nil)
        #expect(HistogramShare.atOrBelow(.nan, bounds: Self.bounds, cumulative: Self.counts) == nil)
        #expect(HistogramShare.atOrBelow(1, bounds: Self.bounds, cumulative: [10, 30, 50, 40]) == nil)
    }
}
