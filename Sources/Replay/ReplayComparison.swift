import Foundation
import Simulator

/// A replay's outcome: what the workload ran under its own scaler, and what each simulated scaler would have run
/// on the same traffic.
public struct ReplayComparison: Sendable, Codable {
    public struct Live: Sendable, Codable {
        public var gpuHours: Double
        public var meanReplicas: Double
        public var maxReplicas: Int
        /// From its TTFT histogram; nil when it exports none.
        public var sloAttainment: Double?

        enum CodingKeys: String, CodingKey {
            case gpuHours = "gpu_hours"
            case meanReplicas = "mean_replicas"
            case maxReplicas = "max_replicas"
            case sloAttainment = "slo_attainment"
        }
    }

    enum CodingKeys: String, CodingKey {
        case namespace, target, from, to, gaps, requests, profile, live, runs
        case stepSeconds = "step_seconds"
        case resolutionSeconds = "resolution_seconds"
        case peakRequestsPerSecond = "peak_requests_per_second"
        case profileNote = "profile_note"
    }

    public var namespace: String
    public var target: String
    public var from: String
    public var to: String
    public var stepSeconds: Double
    public var resolutionSeconds: Double
    /// Steps without a request rate (held at the last one).
    public var gaps: Int
    public var requests: Double
    public var peakRequestsPerSecond: Double
    public var profile: String
    public var profileNote: String
    public var live: Live
    public var runs: [SimulationResult]

    public init(
        recording: PrometheusRecording, namespace: String, target: String, profile: PodProfile, profileNote: String,
        liveAttainment: Double?, runs: [SimulationResult]
    ) {
        self.namespace = namespace
        self.target = target
        let formatter = ISO8601DateFormatter()
        from = formatter.string(from: Date(timeIntervalSince1970: recording.start - recording.step))
        to = formatter.string(from: Date(timeIntervalSince1970: recording.end))
        stepSeconds = recording.step
        resolutionSeconds = recording.resolution
        gaps = recording.gaps
        // What was replayed: gaps held at the rate before them.
        if case .rates(let segments) = recording.trace() {
            requests = segments.reduce(0) { $0 + $1.requestsPerSecond * $1.duration }
        } else {
            requests = 0
        }
        peakRequestsPerSecond = recording.requestRate.compactMap { $0 }.max() ?? 0
        self.profile = profile.name
        self.profileNote = profileNote
        let replicas = recording.liveReplicas.map(\.replicas)
        live = Live(
            gpuHours: recording.liveReplicaHours * Double(profile.gpus),
            meanReplicas: replicas.isEmpty ? 0 : replicas.reduce(0, +) / Double(replicas.count),
            maxReplicas: Int(replicas.max() ?? 0), sloAttainment: liveAttainment)
        self.runs = runs.map { run in
            var summary = run
            summary.timeline = []
            return summary
        }
    }

    /// The comparison as a table: the workload first, then each simulated scaler, with GPU-hours against the
    /// workload's.
    public func text() -> String {
        var lines = [
            "replayed \(namespace)/\(target) from \(from) to \(to) in \(Int(stepSeconds)) s steps "
                + "(samples every \(Int(resolutionSeconds)) s)"
                + (gaps > 0 ? " (\(gaps) steps without data, held at the last rate)" : ""),
            String(format: "traffic: %.0f requests, peak %.3g req/s", requests, peakRequestsPerSecond),
            "profile: \(profile): \(profileNote)",
            "",
        ]
        func percent(_ value: Double?) -> String { value.map { String(format: "%.2f %%", $0 * 100) } ?? "-" }
        func change(_ hours: Double) -> String {
            live.gpuHours > 0 ? String(format: "%+.0f %%", (hours / live.gpuHours - 1) * 100) : "-"
        }
        var rows = [["", "GPU-hours", "vs live", "SLO attainment", "replicas mean / max"]]
        rows.append([
            "live (its own scaler)", String(format: "%.2f", live.gpuHours), "", percent(live.sloAttainment),
            String(format: "%.2f / %d", live.meanReplicas, live.maxReplicas),
        ])
        for run in runs {
            rows.append([
                run.scaler, String(format: "%.2f", run.gpuHours), change(run.gpuHours), percent(run.sloAttainment),
                String(format: "%.2f / %d", run.meanReplicas, run.maxReplicas),
            ])
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            lines.append(
                row.enumerated().map { column, cell in
                    column == 0
                        ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                        : String(repeating: " ", count: widths[column] - cell.count) + cell
                }
                .joined(separator: "  "))
        }
        if let slo = runs.first?.sloTTFTSeconds {
            lines.append("")
            lines.append(String(format: "SLO: time to first token <= %.3g s", slo))
        }
        return lines.joined(separator: "\n")
    }
}
