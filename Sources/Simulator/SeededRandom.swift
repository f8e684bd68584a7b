import Foundation

/// SplitMix64: small, fast and seeded, so that a trace synthesised twice with one seed is the same trace.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1): never 0, so logarithms are finite.
    public mutating func unit() -> Double {
        (Double(next() >> 11) + 0.5) / Double(1 << 53)
    }

    public mutating func normal() -> Double {
        // Box–Muller.
        sqrt(-2 * log(unit())) * cos(2 * Double.pi * unit())
    }

    public mutating func exponential(mean: Double) -> Double {
        -log(unit()) * mean
    }

    /// Gamma with the given mean and coefficient of variation (shape 1/CV²), by Marsaglia and Tsang; shapes below 1
    /// are boosted by one and scaled back with U^(1/shape).
    public mutating func gamma(mean: Double, cv: Double) -> Double {
        guard cv > 0 else { return mean }
        let shape = 1 / (cv * cv)
        let scale = mean / shape
        return gammaUnitScale(shape: shape) * scale
    }

    private mutating func gammaUnitScale(shape: Double) -> Double {
        if shape < 1 {
            return gammaUnitScale(shape: shape + 1) * pow(unit(), 1 / shape)
        }
        let d = shape - 1.0 / 3
        let c = 1 / sqrt(9 * d)
        while true {
            var x: Double
            var v: Double
            repeat {
                x = normal()
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = unit()
            if u < 1 - 0.0331 * x * x * x * x { return d * v }
            if log(u) < 0.5 * x * x + d * (1 - v + log(v)) { return d * v }
        }
    }

    /// Poisson by counting exponential gaps (rates here are small per draw) or, for large means, a rounded normal.
    public mutating func poisson(mean: Double) -> Int {
        guard mean > 0 else { return 0 }
        if mean > 50 { return max(0, Int((mean + sqrt(mean) * normal()).rounded())) }
        let limit = exp(-mean)
        var product = unit()
        var count = 0
        while product > limit {
            product *= unit()
            count += 1
        }
        return count
    }
}
