import AutoscalerCore
import Foundation
import KubernetesModel
import MetricsFixture
import PrometheusTestSupport
import Testing

@testable import Signals

/// The inference gateway's endpoint picker, scraped by a real Prometheus: its flow-control queue for the pool is read
/// while the target has no pod, only the policy's namespace and pool count, and both generations of names are found.
extension RealPrometheusTests {
    /// What an endpoint picker exports, with the labels a scrape in its namespace gives it.
    static let endpointPickers = """
        # TYPE llm_d_epp_flow_control_queue_size gauge
        llm_d_epp_flow_control_queue_size{namespace="llm",pod="epp-0",inference_pool="llama",fairness_id="a",priority="0"} 5
        llm_d_epp_flow_control_queue_size{namespace="llm",pod="epp-0",inference_pool="llama",fairness_id="b",priority="1"} 2
        llm_d_epp_flow_control_queue_size{namespace="llm",pod="epp-0",inference_pool="qwen",fairness_id="a",priority="0"} 100
        llm_d_epp_flow_control_queue_size{namespace="other-team",pod="epp-0",inference_pool="llama",fairness_id="a",priority="0"} 1000
        # TYPE llm_d_epp_flow_control_pool_saturation gauge
        llm_d_epp_flow_control_pool_saturation{namespace="llm",pod="epp-0",inference_pool="llama",stage="prefill"} 0.6
        llm_d_epp_flow_control_pool_saturation{namespace="llm",pod="epp-0",inference_pool="llama",stage="decode"} 1.2
        # TYPE inference_extension_flow_control_queue_size gauge
        inference_extension_flow_control_queue_size{namespace="gie",pod="epp-0",inference_pool="llama",fairness_id="a",priority="0"} 3

        """

    static func gatewayPolicy(namespace: String) throws -> ResolvedPolicy {
        let json = """
            {"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy",
             "metadata":{"name":"p","namespace":"\(namespace)"},
             "spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"llama"},"minReplicas":0,
                     "maxReplicas":8,"signals":[{"type":"GatewayQueueDepth","target":4,"targetType":"Value"},
                     {"type":"GatewaySaturation"}]}}
            """
        return try PolicyValidator.resolve(
            JSONDecoder().decode(InferenceAutoscalePolicy.self, from: Data(json.utf8))
        ).get()
    }

    @Test func theGatewaysQueueIsReadAtZeroReplicasForThePolicysPoolOnly() async throws {
        let exporter = try await LoopbackHTTPServer.start { _ in
            .init(status: 200, contentType: "text/plain; version=0.0.4", body: Self.endpointPickers)
        }
        let prometheus = try await PrometheusServer.start(scraping: [exporter.address])
        do {
            try await prometheus.waitForSeries("inference_extension_flow_control_queue_size")
            let source = PrometheusSignalSource(defaultAddress: prometheus.url, staleAfter: 60)
            // Scaled to zero: no pods, yet the queue the picker holds for the pool is there (5 + 2 over two
            // priority bands; not the other pool's 100 nor the other namespace's 1000). Saturation is the highest
            // stage's.
            let llm = await source.samples(
                for: try Self.gatewayPolicy(namespace: "llm"), pods: [], ready: [], at: Date())
            #expect(llm == [.value(7), .value(1.2)])
            // An endpoint picker of the Gateway API Inference Extension (v1.5 names), without saturation.
            let gie = await source.samples(
                for: try Self.gatewayPolicy(namespace: "gie"), pods: [], ready: [], at: Date())
            #expect(gie.first == .value(3))
            #expect(
                gie.last
                    == .missing(
                        "no gateway pool saturation is exported in namespace gie (looked for "
                            + "llm_d_epp_flow_control_pool_saturation, inference_extension_flow_control_pool_saturation)"
                    ))
            // No picker in the namespace: missing, not 0, so a workload at zero stays there only for lack of data.
            let none = await source.samples(
                for: try Self.gatewayPolicy(namespace: "quiet"), pods: [], ready: [], at: Date())
            guard case .missing(let reason) = none.first else {
                Issue.record("a namespace without an endpoint picker read \(none)")
                throw CancellationError()
            }
            #expect(reason.hasPrefix("no gateway flow-control queue is exported in namespace quiet"))
        } catch {
            prometheus.stop()
            await exporter.stop()
            throw error
        }
        prometheus.stop()
        await exporter.stop()
    }
}
