import Foundation
import KubernetesClient
import KubernetesModel
import KubernetesTestServer
import MetricsFixture
import Testing

@testable import Controller

/// Conflicts, deletion costs and metrics over real HTTP: the test API server, a real Prometheus, the controller.
extension ControllerIntegrationTests {
    static let kedaDefinition =
        #"{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"scaledobjects.keda.sh"},"spec":{"group":"keda.sh","scope":"Namespaced","names":{"plural":"scaledobjects","singular":"scaledobject","kind":"ScaledObject","shortNames":["so"]},"versions":[{"name":"v1alpha1","served":true,"storage":true,"subresources":{"status":{}}}]}}"#
    static let scaledObjects = ResourceType.customResource(
        group: "keda.sh", version: "v1alpha1", resource: "scaledobjects", kind: "ScaledObject")
    static let llama =
        #"{"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy","metadata":{"name":"llama","namespace":"inference"},"spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"minReplicas":1,"maxReplicas":8,"pollingInterval":"1s","signals":[{"type":"QueueDepth","target":5}]}}"#

    func readyReason(_ rig: Rig, _ name: String) -> (reason: String, message: String)? {
        guard case .array(let conditions)? = rig.status(name)?["conditions"],
            let ready = conditions.first(where: { $0["type"] == .string("Ready") }),
            case .string(let reason)? = ready["reason"], case .string(let message)? = ready["message"]
        else { return nil }
        return (reason, message)
    }

    @Test func anHPAOrAScaledObjectOnTheWorkloadStopsThePolicyUntilRemoved() async throws {
        let rig = try await Rig(waiting: 15) { server in
            try server.create(try Self.object(Self.kedaDefinition), resource: .customResourceDefinitions)
            try server.create(
                try Self.object(
                    #"{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"vllm-hpa","namespace":"inference"},"spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"minReplicas":1,"maxReplicas":4}}"#
                ),
                resource: .horizontalPodAutoscalers)
            try server.create(
                try Self.object(
                    #"{"apiVersion":"keda.sh/v1alpha1","kind":"ScaledObject","metadata":{"name":"vllm-so","namespace":"inference"},"spec":{"scaleTargetRef":{"name":"vllm"},"triggers":[]}}"#
                ),
                resource: Self.scaledObjects)
        }
        do {
            try rig.apply(Self.llama)
            try await Self.eventually("the HPA conflict") {
                readyReason(rig, "llama")?.reason == "Conflict"
                    && readyReason(rig, "llama")?.message.contains("HorizontalPodAutoscaler inference/vllm-hpa") == true
            }
            #expect(rig.replicas == 2)
            try rig.server.delete(resource: .horizontalPodAutoscalers, namespace: "inference", name: "vllm-hpa")
            try await Self.eventually("the ScaledObject conflict") {
                readyReason(rig, "llama")?.message.contains("ScaledObject inference/vllm-so") == true
            }
            #expect(rig.replicas == 2)
            try await Self.eventually("the Conflict event") { rig.eventReasons.contains("Conflict") }
            try rig.server.delete(resource: Self.scaledObjects, namespace: "inference", name: "vllm-so")
            try await Self.eventually("scaling once the conflict is gone") { rig.replicas == 6 }
            #expect(readyReason(rig, "llama")?.reason == "Reconciled")
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }

    static let scaledObject =
        #"{"apiVersion":"keda.sh/v1alpha1","kind":"ScaledObject","metadata":{"name":"vllm-so","namespace":"inference"},"spec":{"scaleTargetRef":{"name":"vllm"},"triggers":[]}}"#

    /// Workers start only once the ScaledObject cache has its first list: slow answers widen the window in which a
    /// worker that did not wait would scale a workload KEDA owns.
    @Test func aScaledObjectPresentAtStartIsSeenBeforeAnyScale() async throws {
        let rig = try await Rig(waiting: 15) { server in
            try server.create(try Self.object(Self.kedaDefinition), resource: .customResourceDefinitions)
            try server.create(try Self.object(Self.scaledObject), resource: Self.scaledObjects)
            server.setResponseDelay(0.2)
        }
        do {
            try rig.apply(Self.llama)
            try await Self.eventually("the ScaledObject conflict") {
                #expect(rig.replicas == 2)
                return readyReason(rig, "llama")?.reason == "Conflict"
            }
            #expect(rig.replicas == 2)
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }

    @Test func kedaInstalledAfterTheControllerStartedIsDiscovered() async throws {
        let rig = try await Rig(waiting: 15, kedaDiscoveryInterval: .milliseconds(500))
        do {
            try rig.apply(Self.llama)
            try await Self.eventually("scaling without KEDA") { rig.replicas == 6 }
            try rig.server.create(try Self.object(Self.kedaDefinition), resource: .customResourceDefinitions)
            try rig.server.create(try Self.object(Self.scaledObject), resource: Self.scaledObjects)
            try await Self.eventually("the ScaledObject conflict once KEDA is found") {
                readyReason(rig, "llama")?.reason == "Conflict"
                    && readyReason(rig, "llama")?.message.contains("ScaledObject inference/vllm-so") == true
            }
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }

    @Test func aSecondPolicyForTheSameWorkloadIsTheConflictedOne() async throws {
        let rig = try await Rig(waiting: 15)
        do {
            try rig.apply(Self.llama)
            try await Self.eventually("the first policy scales") { rig.replicas == 6 }
            // Created a second later, so that it is the newer by creationTimestamp (whole seconds).
            try await Task.sleep(for: .seconds(1.1))
            try rig.apply(Self.llama.replacingOccurrences(of: #""name":"llama""#, with: #""name":"llama-copy""#))
            try await Self.eventually("the newer policy's conflict") {
                readyReason(rig, "llama-copy")?.reason == "Conflict"
                    && readyReason(rig, "llama-copy")?.message.contains("InferenceAutoscalePolicy inference/llama ")
                        == true
            }
            #expect(readyReason(rig, "llama")?.reason == "Reconciled")
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }

    @Test func metricsCountReconcilesRequestsAndQueriesAndShowEachPolicy() async throws {
        let metrics = ControllerMetrics()
        let rig = try await Rig(waiting: 15, metrics: metrics)
        do {
            try rig.apply(Self.llama)
            try await Self.eventually("scale up") { rig.replicas == 6 }
            try await Self.eventually("the policy's gauges") {
                metrics.text().contains(
                    #"inference_autoscaler_policy_desired_replicas{namespace="inference",policy="llama"} 6"#)
            }
            let text = await rig.controller.metricsText()
            for expected in [
                #"inference_autoscaler_reconciles_total{result="success"}"#,
                "inference_autoscaler_reconcile_duration_seconds_bucket",
                #"inference_autoscaler_kubernetes_requests_total{verb="patch",code="200"}"#,
                #"inference_autoscaler_kubernetes_request_duration_seconds_bucket{verb="list""#,
                #"inference_autoscaler_prometheus_queries_total{result="success"}"#,
                "inference_autoscaler_prometheus_query_duration_seconds_bucket",
                #"inference_autoscaler_policy_max_replicas{namespace="inference",policy="llama"} 8"#,
                #"inference_autoscaler_policy_min_replicas{namespace="inference",policy="llama"} 1"#,
                #"inference_autoscaler_policy_signal_target{namespace="inference",policy="llama",signal="QueueDepth"} 5"#,
                #"inference_autoscaler_policy_signal_value{namespace="inference",policy="llama",signal="QueueDepth"}"#,
                "inference_autoscaler_workqueue_depth", "inference_autoscaler_leader 1",
            ] {
                #expect(text.contains(expected), "missing \(expected) in:\n\(text)")
            }

            // A deleted policy's series go with it.
            try rig.server.delete(resource: .inferenceAutoscalePolicies, namespace: "inference", name: "llama")
            try await Self.eventually("the policy's series removed") {
                !metrics.text().contains(#"policy="llama""#)
            }
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }

    @Test func beforeAScaleDownTheIdlestPodsAreMarkedCheapestToDelete() async throws {
        let rig = try await Rig(waiting: 0)
        do {
            rig.exporter.update(namespace: "inference", pod: "vllm-0") { $0.running = 7 }
            rig.exporter.update(namespace: "inference", pod: "vllm-1") { $0.running = 0 }
            try await rig.prometheus.waitForSeries(#"vllm:num_requests_running{pod="vllm-0"} == 7"#)
            try rig.apply(
                #"{"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy","metadata":{"name":"llama","namespace":"inference"},"spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"minReplicas":1,"maxReplicas":8,"pollingInterval":"1s","signals":[{"type":"QueueDepth","target":5}],"behavior":{"scaleDown":{"stabilizationWindow":"0s"}}}}"#
            )
            try await Self.eventually("scale down to 1") { rig.replicas == 1 }
            func cost(_ pod: String) -> JSONValue? {
                rig.server.object(resource: .pods, namespace: "inference", name: pod)?["metadata"]?["annotations"]?[
                    "controller.kubernetes.io/pod-deletion-cost"]
            }
            #expect(cost("vllm-0") == .string("7"))
            #expect(cost("vllm-1") == .string("0"))
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }
}

extension ControllerIntegrationTests {
    @Test func policiesOfOneNamespaceShareAQueryYetEachSeesOnlyItsPods() async throws {
        let rig = try await Rig(waiting: 15) { server in
            try server.create(
                try Self.object(
                    #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"other","namespace":"inference"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}},"spec":{"containers":[{"name":"vllm","image":"x"}]}}}}"#
                ),
                resource: .deployments)
            for index in 0..<2 {
                let pod = try server.create(
                    try Self.object(
                        #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"other-\#(index)","namespace":"inference","labels":{"app":"other"}},"spec":{"containers":[{"name":"vllm","image":"x"}]}}"#
                    ),
                    resource: .pods)
                try server.update(
                    pod.setting(
                        try Self.object(
                            #"{"phase":"Running","conditions":[{"type":"Ready","status":"True","lastTransitionTime":"\#(Timestamp.format(Date().addingTimeInterval(-600)))"}]}"#
                        ),
                        at: ["status"]),
                    resource: .pods, subresource: "status")
            }
        }
        do {
            for index in 0..<2 {
                rig.exporter.set(PodMetrics(namespace: "inference", pod: "other-\(index)", engine: .vllm, waiting: 100))
            }
            try await rig.prometheus.waitForSeries(#"vllm:num_requests_waiting{pod="other-1"}"#)
            try rig.apply(Self.llama)
            try rig.apply(
                Self.llama.replacingOccurrences(of: #""name":"llama""#, with: #""name":"llama-other""#)
                    .replacingOccurrences(
                        of: #""kind":"Deployment","name":"vllm""#, with: #""kind":"Deployment","name":"other""#))
            try await Self.eventually("both scaled") {
                rig.replicas == 6 && (rig.replicas(of: "other") ?? 0) > 2
            }
            // vllm's queue is its own pods' (15 each), not the namespace's.
            guard case .array(let signals)? = rig.status("llama")?["signals"] else {
                Issue.record("no signals in status")
                return
            }
            #expect(signals.first?["value"] == .number(15))
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }
}
