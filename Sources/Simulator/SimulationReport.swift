import Foundation

/// The human-readable summary of a simulation.
public enum SimulationReport {
    public static func text(_ result: SimulationResult, elapsed: Duration? = nil) -> String {
        func seconds(_ value: Double?) -> String {
            guard let value else { return "-" }
            return value < 1 ? "\(Int((value * 1000).rounded())) ms" : String(format: "%.2f s", value)
        }
        var rows: [(String, String)] = [
            ("scaler", result.scaler),
            ("profile", "\(result.profile) (\(result.model) model)"),
            ("simulated", duration(result.durationSeconds)),
            ("requests", "\(result.requests) (\(result.completed) completed)"),
            ("GPU-hours", String(format: "%.2f", result.gpuHours)),
            (
                "SLO attainment",
                String(
                    format: "%.2f %% of requests with TTFT <= %@", result.sloAttainment * 100,
                    seconds(result.sloTTFTSeconds))
            ),
            (
                "TTFT p50 / p95 / p99",
                "\(seconds(result.ttftP50)) / \(seconds(result.ttftP95)) / \(seconds(result.ttftP99))"
            ),
            ("replicas mean / max", String(format: "%.2f / %d", result.meanReplicas, result.maxReplicas)),
            ("scale events", "\(result.scaleEvents)"),
        ]
        if let elapsed {
            let wall = elapsed.seconds
            rows.append(("wall time", String(format: "%.2f s", wall)))
        }
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { name, value in name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value }
            .joined(separator: "\n")
    }

    /// 90 s, 57 min, 14 d 0 h.
    public static func duration(_ seconds: Double) -> String {
        if seconds < 120 { return "\(Int(seconds.rounded())) s" }
        if seconds < 7200 { return "\(Int((seconds / 60).rounded())) min" }
        if seconds < 172_800 { return String(format: "%.1f h", seconds / 3600) }
        return "\(Int(seconds / 86400)) d \(Int(seconds.truncatingRemainder(dividingBy: 86400) / 3600)) h"
    }
}
