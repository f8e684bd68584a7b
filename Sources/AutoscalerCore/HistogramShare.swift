/// The share of a Prometheus histogram's observations at or below a value, from cumulative bucket counts, with the
/// linear interpolation inside a bucket that `histogram_quantile` assumes (the first bucket starts at 0).
public enum HistogramShare {
    /// - Parameters:
    ///   - bounds: the finite upper bounds (`le`), ascending.
    ///   - cumulative: the counts per bound, then `+Inf` (`bounds.count + 1` of them).
    /// - Returns: nil when nothing was counted or the counts do not fit the bounds (a bucket above the total: rates
    ///   of one scrape's buckets differ by rounding only).
    public static func atOrBelow(_ value: Double, bounds: [Double], cumulative: [Double]) -> Double? {
        guard cumulative.count == bounds.count + 1, let total = cumulative.last, total > 0, value.isFinite,
            cumulative.allSatisfy({ $0.isFinite && $0 <= total * 1.001 })
        else { return nil }
        var lower = 0.0
        var below = 0.0
        for (index, upper) in bounds.enumerated() {
            if value < upper {
                let width = upper - lower
                let inside = width > 0 ? max(0, value - lower) / width : 0
                return min(1, max(0, (below + (cumulative[index] - below) * inside) / total))
            }
            lower = upper
            below = cumulative[index]
        }
        // Beyond the highest finite bound: only what that bound counts is known to be below.
        return min(1, max(0, below / total))
    }
}
