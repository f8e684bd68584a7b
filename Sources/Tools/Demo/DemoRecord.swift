import Foundation
import Simulator

/// One refresh of the live view: what the fleet, the Deployment and the policy show at that moment.
struct DemoSample: Sendable {
    var time: Double
    var load: Double
    var waiting: Int
    var ttftP95: Double?
    var ready: Int
    /// Pods holding a GPU: loading, ready, or finishing their requests after deletion.
    var pods: Int
    var desired: Int
    var limitedBy: String?
    var policyReady: String?
    /// The objective planner's figures, from `status.objective`.
    var planner: String?
    var lastEvent: String?
    var phase: String
}

/// A change of the Deployment's `spec.replicas`, as the demo saw it.
struct ScaleChange: Codable, Sendable, Equatable {
    var time: Double
    var from: Int
    var to: Int
}

/// What `demo-out/summary.json` holds: the outcome of the run, for people and for the end-to-end test.
struct DemoSummary: Codable, Sendable {
    var durationSeconds: Double
    var interrupted: Bool
    var requests: Int
    var firstTokens: Int
    var sloTTFTSeconds: Double
    var sloAttainment: Double?
    var ttftP95: Double?
    var gpuMinutes: Double
    /// A static Deployment as large as the largest replica count the controller chose, for the whole run.
    var staticPeakReplicas: Int
    var staticPeakGPUMinutes: Double
    var initialReplicas: Int
    var maxReplicas: Int
    var finalReplicas: Int
    var scaleChanges: [ScaleChange]

    enum CodingKeys: String, CodingKey {
        case durationSeconds = "duration_seconds"
        case interrupted, requests
        case firstTokens = "first_tokens"
        case sloTTFTSeconds = "slo_ttft_seconds"
        case sloAttainment = "slo_attainment"
        case ttftP95 = "ttft_p95"
        case gpuMinutes = "gpu_minutes"
        case staticPeakReplicas = "static_peak_replicas"
        case staticPeakGPUMinutes = "static_peak_gpu_minutes"
        case initialReplicas = "initial_replicas"
        case maxReplicas = "max_replicas"
        case finalReplicas = "final_replicas"
        case scaleChanges = "scale_changes"
    }

    /// The lines printed at the end.
    func lines(outDirectory: String) -> [String] {
        let ups = scaleChanges.filter { $0.to > $0.from }.count
        let saved = staticPeakGPUMinutes > 0 ? (1 - gpuMinutes / staticPeakGPUMinutes) * 100 : 0
        var path = [initialReplicas]
        for change in scaleChanges where change.to != path.last { path.append(change.to) }
        let journey =
            path.count > 6
            ? "\(initialReplicas) → \(maxReplicas) (max) → \(finalReplicas)"
            : path.map(String.init).joined(separator: " → ")
        let attainment = sloAttainment.map { String(format: "%.1f %%", $0 * 100) } ?? "n/a"
        return [
            "Summary\(interrupted ? " (interrupted)" : "") after \(LiveView.clock(durationSeconds))",
            "  requests     \(requests) arrived, \(firstTokens) got their first token",
            "  replicas     \(journey); \(scaleChanges.count) scale events (\(ups) up, \(scaleChanges.count - ups) down)",
            String(
                format: "  GPU-minutes  %.1f used vs %.1f for a static deployment of %d (the peak): %.0f %% saved",
                gpuMinutes, staticPeakGPUMinutes, staticPeakReplicas, saved),
            "  SLO          \(attainment) of first tokens within \(LiveView.seconds(sloTTFTSeconds))"
                + (ttftP95.map { ", TTFT p95 \(LiveView.seconds($0))" } ?? ""),
            "  files        \(outDirectory)/timeline.svg, timeline.csv, summary.json, controller.log, prometheus.log",
        ]
    }
}

/// The run as it happens: samples for the chart, scale changes, and the summary at the end.
struct DemoRecord {
    private(set) var points: [TimelinePoint] = []
    private(set) var changes: [ScaleChange] = []
    private(set) var initialReplicas: Int?
    private(set) var lastDesired: Int?
    private(set) var maxDesired = 0

    /// Notes the Deployment's replica count at `time`; a change is a scale event.
    mutating func observe(desired: Int, at time: Double) {
        if initialReplicas == nil { initialReplicas = desired }
        if let lastDesired, lastDesired != desired {
            changes.append(ScaleChange(time: time, from: lastDesired, to: desired))
        }
        lastDesired = desired
        maxDesired = max(maxDesired, desired)
    }

    mutating func add(_ sample: DemoSample) {
        points.append(
            TimelinePoint(
                time: sample.time, load: sample.load, waiting: Double(sample.waiting), desired: sample.desired,
                ready: sample.ready, pods: sample.pods, ttftP95: sample.ttftP95, reason: sample.limitedBy ?? ""))
    }

    func summary(
        duration: Double, interrupted: Bool, totals: LiveFleet.Totals, gpuSeconds: Double, sloTTFT: Double
    )
        -> DemoSummary
    {
        DemoSummary(
            durationSeconds: duration, interrupted: interrupted, requests: Int(totals.arrived),
            firstTokens: Int(totals.firstTokens), sloTTFTSeconds: sloTTFT, sloAttainment: totals.sloAttainment,
            ttftP95: totals.ttftP95, gpuMinutes: gpuSeconds / 60, staticPeakReplicas: maxDesired,
            staticPeakGPUMinutes: Double(maxDesired) * duration / 60, initialReplicas: initialReplicas ?? 0,
            maxReplicas: maxDesired, finalReplicas: lastDesired ?? 0, scaleChanges: changes)
    }
}
