import Foundation
import KubernetesModel
import KubernetesTestServer
import Testing

@testable import Controller

/// A budget the user made under the policy's name. The install's least privilege is proven on a real API server:
/// RealClusterTests compares a whole run's audit log with `config/rbac` both ways (the test API server authorized a
/// server-side apply as `patch`, where every real one asks for `create` when it creates).
extension ControllerIntegrationTests {
    @Test func aBudgetTheUserOwnsUnderThePolicysNameIsNeitherTakenOverNorDeleted() async throws {
        let userBudget =
            #"{"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"llama","namespace":"inference"},"spec":{"maxUnavailable":0,"selector":{"matchLabels":{"app":"vllm"}}}}"#
        let rig = try await Rig(waiting: 15) { server in
            try server.create(try Self.object(userBudget), resource: .podDisruptionBudgets)
        }
        do {
            try rig.apply(
                Self.llama.replacingOccurrences(
                    of: #""signals""#, with: #""disruptionBudget":{"maxUnavailable":1},"signals""#))
            try await Self.eventually("scaling goes on") { rig.replicas == 6 }
            try await Self.eventually("the conflict announced") {
                rig.eventReasons.contains("DisruptionBudgetConflict")
            }
            #expect(rig.budget?["spec"]?["maxUnavailable"] == .number(0))
            #expect(rig.budget?["metadata"]?["ownerReferences"] == nil)
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }
}
