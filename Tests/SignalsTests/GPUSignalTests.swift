import AutoscalerCore
import Foundation
import MetricsFixture
import PrometheusTestSupport
import Testing

@testable import Signals

/// DCGM's fields as the exporter is deployed: one series per GPU, labelled with the pod that holds it directly or, through
/// the Helm chart's ServiceMonitor, as `exported_pod`; each pod's `nvidia.com/gpu` says how many should report.
extension RealPrometheusTests {
    @Test func everyDCGMFieldIsReadPerGPUUnderEitherLabellingAndAGPUThatDoesNotReportCounts() async throws {
        try await Self.withPrometheus({ exporter in
            // Two GPUs, both reporting, labelled by the exporter itself.
            var direct = PodMetrics(namespace: "gpu", pod: "vllm-0", gpuUtilization: 70)
            direct.gpusReporting = 2
            direct.gpuMemoryCopyUtilization = 40
            direct.gpuFramebufferUsed = 70_000
            direct.gpuPower = 300
            exporter.set(direct)
            // Two GPUs scraped through the ServiceMonitor (exported_pod), one of which the exporter lost.
            var relabelled = PodMetrics(namespace: "gpu", pod: "vllm-1", gpuUtilization: 90, dcgmExportedLabels: true)
            relabelled.gpuMemoryCopyUtilization = 60
            relabelled.gpuFramebufferUsed = 74_000
            relabelled.gpuPower = 500
            exporter.set(relabelled)
            // Another namespace's pod of the same name: never read.
            exporter.set(PodMetrics(namespace: "elsewhere", pod: "vllm-0", gpuUtilization: 5))
        }) { prometheus, _, client in
            try await prometheus.waitForSeries("DCGM_FI_DEV_POWER_USAGE")
            let reader = SignalReader(client: client, discovery: .init(cache: MetricDiscovery(), key: "gpu"))
            let scope = PodScope(namespace: "gpu", pods: .names(["vllm-0", "vllm-1"]))
            func read(_ type: SignalType, target: Double, gpus: [String: Int] = [:]) async -> SignalSample {
                await reader.read(
                    .init(type: type, target: target), engine: .vllm, scope: scope, ready: ["vllm-0", "vllm-1"],
                    gpus: gpus, at: Date()
                ).sample
            }
            // Without the pods' GPU counts, the three GPUs that report: (70 + 70 + 90) / 3.
            guard case .value(let reported) = await read(.gpuUtilization, target: 80) else {
                Issue.record("no GPU utilization")
                return
            }
            #expect(abs(reported - 230.0 / 3) < 1e-9)
            #expect(await read(.gpuMemoryCopyUtilization, target: 50) == .value(140.0 / 3))
            #expect(await read(.gpuFramebufferUsed, target: 60_000) == .value(214_000.0 / 3))
            #expect(await read(.gpuPower, target: 400) == .value(1_100.0 / 3))
            // vllm-1 holds two GPUs and one is silent. The others ask for more (average 76.7 < 80 would ask for
            // fewer, so the silent one counts as at target): never below what the reporting GPUs say about themselves.
            let gpus = ["vllm-0": 2, "vllm-1": 2]
            #expect(await read(.gpuUtilization, target: 80, gpus: gpus) == .value((230.0 + 80) / 4))
            // Above target (power 366.7 > 300), the silent GPU counts as idle, and the result never drops below 300.
            #expect(await read(.gpuPower, target: 300, gpus: gpus) == .value(max(300, 1_100.0 / 4)))
            // No DCGM series at all for the pods: missing, not 0.
            let none = await reader.read(
                .init(type: .gpuPower, target: 300), engine: .vllm,
                scope: .init(namespace: "gpu", pods: .names(["vllm-9"])), ready: ["vllm-9"], at: Date())
            #expect(
                none.sample
                    == .missing("no DCGM_FI_DEV_POWER_USAGE series for the target's pods (by pod or exported_pod)"))
        }
    }
}
