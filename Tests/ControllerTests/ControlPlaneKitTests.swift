import Foundation
import KubernetesControlPlane
import Testing

@Suite(.serialized)
struct ControlPlaneKitTests {
    @Test func aServiceAccountIsHeldToRBACAndTheAdminIsAudited() async throws {
        let plane = try await KubernetesControlPlane.start(.init(controllerManager: false))
        defer { plane.stop() }
        try plane.kubectl(["create", "namespace", "x"])
        let serviceAccount = try plane.serviceAccountKubeconfig(namespace: "x", serviceAccount: "sa")

        // `auth can-i` answers "no" with status 1: no role binds the new ServiceAccount.
        let refusal = #expect(throws: KubernetesControlPlane.CommandError.self) {
            try plane.kubectl(["auth", "can-i", "list", "pods", "-n", "x"], kubeconfig: serviceAccount)
        }
        #expect(refusal?.status == 1)
        #expect(refusal?.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "no")

        let created = try await plane.auditEvent {
            $0.verb == "create" && $0.resource == "namespaces" && $0.name == "x" && $0.user == "kubernetes-admin"
        }
        #expect(created.code == 201)
        #expect(created.apiGroup == "")
    }
}
