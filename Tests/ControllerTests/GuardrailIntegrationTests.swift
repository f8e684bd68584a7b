import Foundation
import KubernetesClient
import KubernetesModel
import KubernetesTestServer
import Testing

@testable import Controller

/// A GPU ResourceQuota and pods waiting for nodes, over the test API server: what the quota controller, the
/// Deployment controller and the scheduler would write is written to the server by hand.
extension ControllerIntegrationTests {
    func condition(_ rig: Rig, _ name: String, _ type: String) -> JSONValue? {
        rig.status(name)?["conditions"]?.arrayValue?.first { $0["type"] == .string(type) }
    }

    /// The rig's Deployment asking one GPU per replica.
    static func askOneGPUPerReplica(_ server: TestAPIServer) throws {
        let deployment = try #require(server.object(resource: .deployments, namespace: "inference", name: "vllm"))
        let containers: JSONValue = .array([
            .object([
                "name": .string("vllm"), "image": .string("vllm/vllm-openai"),
                "resources": .object(["limits": .object(["nvidia.com/gpu": .string("1")])]),
            ])
        ])
        try server.update(
            deployment.setting(containers, at: ["spec", "template", "spec", "containers"]), resource: .deployments)
    }

    static func gpuQuota(hard: Int, used: Int) throws -> JSONValue {
        try object(
            #"{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"gpu-quota","namespace":"inference"},"spec":{"hard":{"requests.nvidia.com/gpu":"\#(hard)"}},"status":{"hard":{"requests.nvidia.com/gpu":"\#(hard)"},"used":{"requests.nvidia.com/gpu":"\#(used)"}}}"#
        )
    }

    @Test func aGPUQuotaCapsTheCountAndSaysWhich() async throws {
        let rig = try await Rig(waiting: 15) { server in
            try Self.askOneGPUPerReplica(server)
            // 4 GPUs, 2 used by the two pods: room for 4 replicas where the queue asks for 6.
            let quota = try server.create(try Self.gpuQuota(hard: 4, used: 2), resource: .resourceQuotas)
            try server.update(
                quota.setting(try Self.gpuQuota(hard: 4, used: 2)["status"]!, at: ["status"]),
                resource: .resourceQuotas,
                subresource: "status")
        }
        do {
            try rig.apply(Self.llama)
            try await Self.eventually("the quota's cap") {
                rig.status("llama")?["limitedBy"] == .string("quota:gpu-quota")
            }
            #expect(rig.replicas == 4)
            let limited = condition(rig, "llama", "ScalingLimited")
            #expect(limited?["reason"] == .string("ResourceQuota"))
            #expect(limited?["message"]?.stringValue?.contains("requests.nvidia.com/gpu 2 of 4 used") == true)
            try await Self.eventually("the LimitedByQuota event") { rig.eventReasons.contains("LimitedByQuota") }
            // Held there, not asked again: a few more rounds leave the count at 4.
            try await Task.sleep(for: .seconds(3))
            #expect(rig.replicas == 4)

            // The platform team raises the quota: the watch brings it and the queue decides again.
            let quota = try #require(
                rig.server.object(resource: .resourceQuotas, namespace: "inference", name: "gpu-quota"))
            try rig.server.update(
                quota.setting(try Self.gpuQuota(hard: 16, used: 2)["status"]!, at: ["status"]),
                resource: .resourceQuotas, subresource: "status")
            try await Self.eventually("the queue's count once the quota has room") { rig.replicas == 6 }
            #expect(rig.status("llama")?["limitedBy"] == .string("QueueDepth"))
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }

    @Test func aDeploymentThatCannotCreatePodsOverAQuotaIsNotAskedForMore() async throws {
        let refusal =
            #"pods \"vllm-7d9c-x2k4p\" is forbidden: exceeded quota: compute, requested: requests.cpu=8, used: "#
            + #"requests.cpu=16, limited: requests.cpu=16"#
        let rig = try await Rig(waiting: 15) { server in
            let deployment = try #require(server.object(resource: .deployments, namespace: "inference", name: "vllm"))
            try server.update(
                deployment.setting(
                    try Self.object(
                        #"{"replicas":2,"readyReplicas":2,"conditions":[{"type":"ReplicaFailure","status":"True","reason":"FailedCreate","message":"\#(refusal)"}]}"#
                    ), at: ["status"]),
                resource: .deployments, subresource: "status")
        }
        do {
            try rig.apply(Self.llama)
            try await Self.eventually("the refusal's cap") {
                rig.status("llama")?["limitedBy"] == .string("quota:compute")
            }
            #expect(rig.replicas == 2)
            #expect(
                condition(rig, "llama", "ScalingLimited")?["message"]?.stringValue?.contains("ResourceQuota compute")
                    == true)

            // The refusal clears (the quota was raised): the queue decides.
            let deployment = try #require(
                rig.server.object(resource: .deployments, namespace: "inference", name: "vllm"))
            try rig.server.update(
                deployment.setting(.object(["replicas": .number(2), "readyReplicas": .number(2)]), at: ["status"]),
                resource: .deployments, subresource: "status")
            try await Self.eventually("the queue's count") { rig.replicas == 6 }
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }

    @Test func podsThatFindNoNodeWithinTheLeadTimeAreReported() async throws {
        let rig = try await Rig(waiting: 0) { server in
            let pod = try server.create(
                try Self.object(
                    #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"vllm-2","namespace":"inference","labels":{"app":"vllm"}},"spec":{"containers":[{"name":"vllm","image":"x"}]}}"#
                ),
                resource: .pods)
            try server.update(
                pod.setting(
                    try Self.object(
                        #"{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False","reason":"Unschedulable","message":"0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}]}"#
                    ), at: ["status"]),
                resource: .pods, subresource: "status")
        }
        do {
            // A 1 s lead time: the pending pod is past it at once.
            try rig.apply(
                #"{"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy","metadata":{"name":"llama","namespace":"inference"},"spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"minReplicas":2,"maxReplicas":8,"pollingInterval":"1s","signals":[{"type":"QueueDepth","target":5}],"startup":{"expectedDuration":"1s"}}}"#
            )
            try await Self.eventually("the CapacityUnavailable condition") {
                condition(rig, "llama", "CapacityAvailable")?["reason"] == .string("CapacityUnavailable")
            }
            let message = condition(rig, "llama", "CapacityAvailable")?["message"]?.stringValue ?? ""
            #expect(message.contains("vllm-2: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu."))
            try await Self.eventually("the CapacityUnavailable event") {
                rig.eventReasons.contains("CapacityUnavailable")
            }

            // The node arrives and the scheduler places the pod: the condition clears.
            let pod = try #require(rig.server.object(resource: .pods, namespace: "inference", name: "vllm-2"))
            try rig.server.update(
                pod.setting(
                    try Self.object(
                        #"{"phase":"Running","conditions":[{"type":"PodScheduled","status":"True"},{"type":"Ready","status":"True"}]}"#
                    ), at: ["status"]),
                resource: .pods, subresource: "status")
            try await Self.eventually("capacity available again") {
                condition(rig, "llama", "CapacityAvailable")?["status"] == .string("True")
            }
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }
}
