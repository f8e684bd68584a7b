import Foundation
import KubernetesModel
import KubernetesTestServer
import Testing

@testable import Controller

/// The caches hold what the controller reads and nothing of the cluster's other workloads.
extension ControllerIntegrationTests {
    @Test func podsAreListedAndWatchedOnlyInNamespacesWithPolicies() async throws {
        let rig = try await Rig(waiting: 15, watching: []) { server in
            try server.create(
                try Self.object(
                    #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-0","namespace":"other","labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"web"}]}}"#
                ),
                resource: .pods)
        }
        do {
            try rig.apply(Self.llama)
            try await Self.eventually("scaling on the policy's own pods") { rig.replicas == 6 }
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
        let podRequests = rig.server.requests.filter { $0.path.hasSuffix("/pods") }
        #expect(!podRequests.isEmpty)
        #expect(
            podRequests.allSatisfy { $0.path == "/api/v1/namespaces/inference/pods" },
            "\(Set(podRequests.map(\.path)))")
    }
}

@Suite struct CachedFieldsTests {
    static func object(_ json: String) throws -> DynamicObject {
        try DynamicObject(JSONDecoder().decode(JSONValue.self, from: Data(json.utf8)))
    }

    @Test func aCachedPodKeepsReadinessLabelsAndTimesOnly() throws {
        let pod = try Self.object(
            #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"n","uid":"u","resourceVersion":"7","creationTimestamp":"2026-01-01T00:00:00Z","deletionTimestamp":"2026-01-01T01:00:00Z","labels":{"app":"a"},"annotations":{"big":"x"},"managedFields":[{"manager":"kubelet"}],"ownerReferences":[{"kind":"ReplicaSet"}]},"spec":{"containers":[{"name":"c","image":"i","env":[{"name":"A","value":"1"}]}]},"status":{"phase":"Running","podIP":"10.0.0.1","conditions":[{"type":"PodScheduled","status":"True"},{"type":"Ready","status":"True","lastTransitionTime":"2026-01-01T00:01:00Z","reason":"x"}],"containerStatuses":[{"name":"c"}]}}"#
        )
        let cached = CachedFields.pod(pod)
        #expect(cached.json["spec"] == nil && cached.json["metadata"] == nil)
        #expect(
            cached.metadata.annotations == nil
                && cached.metadata.additionalFields.keys.sorted() == ["deletionTimestamp"])
        #expect(cached.metadata.labels == ["app": "a"] && cached.metadata.resourceVersion == "7")
        #expect(LiveClusterAPI.podInfo(cached) == LiveClusterAPI.podInfo(pod))
    }

    @Test func aCachedPodKeepsHowManyGPUsItHolds() throws {
        let pod = try Self.object(
            #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"n"},"spec":{"containers":[{"name":"server","resources":{"limits":{"nvidia.com/gpu":"2","cpu":"8"}}},{"name":"sidecar","resources":{"requests":{"nvidia.com/gpu":"1"}}},{"name":"log","resources":{"limits":{"nvidia.com/gpu":"0.5"}}}]},"status":{}}"#
        )
        let cached = CachedFields.pod(pod)
        #expect(cached.json["spec"] == nil)
        #expect(LiveClusterAPI.podInfo(cached)?.gpus == 3)
        #expect(LiveClusterAPI.podInfo(cached) == LiveClusterAPI.podInfo(pod))
        let cpuOnly = try Self.object(#"{"metadata":{"name":"q"},"spec":{"containers":[{"name":"c"}]}}"#)
        #expect(LiveClusterAPI.podInfo(CachedFields.pod(cpuOnly))?.gpus == 0)
    }

    @Test func aCachedWorkloadAnswersAsItsScaleWould() throws {
        let deployment = try Self.object(
            #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"n","managedFields":[{"manager":"kubectl"}]},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"d"}},"template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"i"}]}}},"status":{"replicas":3,"readyReplicas":2,"conditions":[{"type":"Available"}]}}"#
        )
        let cached = CachedFields.workload(deployment)
        #expect(cached.json["spec"]?["template"] == nil && cached.metadata.additionalFields.isEmpty)
        #expect(LiveClusterAPI.scale(of: cached) == LiveClusterAPI.scale(of: deployment).withSlimMetadata)
    }
}

extension Scale {
    /// The cached object's metadata lacks managed fields; the rest of the Scale is the same.
    fileprivate var withSlimMetadata: Scale {
        var scale = self
        scale.metadata.additionalFields = [:]
        return scale
    }
}
