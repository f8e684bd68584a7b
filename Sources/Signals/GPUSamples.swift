import AutoscalerCore
import Foundation

extension SignalReader {
    /// A GPU type's value from the DCGM exporter's per-GPU series of the target's pods: the average per GPU (the
    /// targets are per GPU), with every GPU a ready pod holds (`nvidia.com/gpu`) counted. A GPU that does not report
    /// is not averaged away, or a pod whose exporter lost half its GPUs would look as busy as the half that reports:
    /// it counts as HPA counts a pod without metrics (see `NamespaceBatches.aggregate`).
    func perGPU(
        _ signal: ResolvedPolicy.Signal, query: String, pods: [String], ready: Set<String>, gpus: [String: Int],
        at time: Date
    ) async -> SignalSample {
        switch await client.vector(query, at: time, of: "one series per GPU") {
        case .failure(let error): return .missing(error.message)
        case .success(let samples): return Self.perGPU(samples, signal: signal, pods: pods, ready: ready, gpus: gpus)
        }
    }

    static func perGPU(
        _ samples: [VectorSample], signal: ResolvedPolicy.Signal, pods: [String], ready: Set<String>,
        gpus: [String: Int]
    ) -> SignalSample {
        var reported: [String: [Double]] = [:]
        for sample in samples {
            guard let pod = sample.labels["pod"] else { continue }
            reported[pod, default: []].append(sample.value)
        }
        guard pods.contains(where: { reported[$0] != nil }) else {
            let metric = EnginePresets.dcgmMetric(for: signal.type) ?? signal.type.rawValue
            return .missing("no \(metric) series for the target's pods (by pod or exported_pod)")
        }
        // One unit per GPU: the ones that report, and for a ready pod as many more as it holds without reporting.
        var values: NamespaceBatches.PodValues = [:]
        var units: [String] = []
        var readyUnits: Set<String> = []
        for pod in pods {
            let own = reported[pod] ?? []
            let held = ready.contains(pod) ? max(own.count, gpus[pod] ?? 0) : own.count
            for index in 0..<held {
                let unit = "\(pod)/\(index)"
                units.append(unit)
                if index < own.count { values[unit] = ["": own[index]] }
                if ready.contains(pod) { readyUnits.insert(unit) }
            }
        }
        return NamespaceBatches.aggregate(
            values, pods: units, ready: readyUnits, targetType: signal.targetType, target: signal.target)
    }
}
