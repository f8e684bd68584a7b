import Foundation
import KubernetesModel
import KubernetesTestServer
import Testing
import Yams

@testable import Controller

/// The install grants exactly what the controller asks for: every request of a whole run (scale up, gentle scale
/// down, zero, back from zero, budgets, Events, status, leader election, the other autoscalers' caches) is allowed
/// by `config/rbac`, and every verb `config/rbac` grants was used.
extension ControllerIntegrationTests {
    /// `group|resource[/subresource]|verb`.
    typealias Grant = String

    /// Granted but not (reliably) reached by this run, each with the code path that needs it.
    static let grantedForPathsNotRun: [Grant: String] = [
        "apps|deployments/scale|get": "the target's /scale when the Deployment cache does not hold it yet",
        "apps|statefulsets/scale|get": "the same for a StatefulSet target",
        "apps|statefulsets/scale|patch": "scaling a StatefulSet target",
        "events.k8s.io|events|patch": "a repeated Event within ten minutes raises its series count",
        "autoscaling.inference.dev|inferenceautoscalepolicies/finalizers|update":
            "not a request: the API server checks it when the budget's owner reference sets blockOwnerDeletion",
    ]

    static func packageRoot() -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// The rules of the ClusterRole and the leader-election Role, as grants.
    static func grants() throws -> Set<Grant> {
        var grants = Set<Grant>()
        for file in ["role.yaml", "leader_election_role.yaml"] {
            let text = try String(
                contentsOf: packageRoot().appendingPathComponent("config/rbac/\(file)"), encoding: .utf8)
            let document = try #require(try Yams.load(yaml: text) as? [String: Any])
            for rule in try #require(document["rules"] as? [[String: Any]]) {
                for group in rule["apiGroups"] as? [String] ?? [] {
                    for resource in rule["resources"] as? [String] ?? [] {
                        for verb in rule["verbs"] as? [String] ?? [] { grants.insert("\(group)|\(resource)|\(verb)") }
                    }
                }
            }
        }
        return grants
    }

    /// The grant a request needs, as the API server's request-info resolver reads it; nil for discovery paths.
    static func grant(of request: RecordedRequest) -> Grant? {
        var parts = request.path.split(separator: "/").map(String.init)
        let group: String
        if parts.first == "api", parts.count >= 2 {
            group = ""
            parts.removeFirst(2)
        } else if parts.first == "apis", parts.count >= 3 {
            group = parts[1]
            parts.removeFirst(3)
        } else {
            return nil
        }
        if parts.first == "namespaces", parts.count >= 3 { parts.removeFirst(2) }
        guard let resource = parts.first else { return nil }
        let name = parts.count > 1 ? parts[1] : nil
        let subresource = parts.count > 2 ? "/" + parts[2] : ""
        let verb: String
        switch request.method {
        case "GET":
            verb = name != nil ? "get" : ["1", "true"].contains(request.query["watch"] ?? "") ? "watch" : "list"
        case "POST": verb = "create"
        case "PUT": verb = "update"
        case "PATCH": verb = "patch"
        case "DELETE": verb = name != nil ? "delete" : "deletecollection"
        default: verb = request.method.lowercased()
        }
        return "\(group)|\(resource)\(subresource)|\(verb)"
    }

    @Test func aWholeRunUsesExactlyTheGrantsOfTheInstall() async throws {
        let rig = try await Rig(waiting: 0, leaderElect: true) { server in
            try server.create(try Self.object(Self.kedaDefinition), resource: .customResourceDefinitions)
        }
        do {
            try rig.apply(
                #"{"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy","metadata":{"name":"llama","namespace":"inference"},"spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"minReplicas":0,"maxReplicas":8,"pollingInterval":"1s","signals":[{"type":"Custom","query":"sum(vllm:num_requests_waiting{namespace=\"inference\"})","target":5,"targetType":"Value"}],"scaleToZero":{"idleFor":"3s"},"behavior":{"scaleDown":{"stabilizationWindow":"0s","policies":[{"type":"Pods","value":10,"period":"1s"}]}},"startup":{"expectedDuration":"1s"},"disruptionBudget":{"minAvailable":1}}}"#
            )
            try await Self.eventually("a gentle scale down to 1") { rig.replicas == 1 }
            try await Self.eventually("scale to zero and the budget removed") { rig.replicas == 0 && rig.budget == nil }
            rig.exporter.update(namespace: "inference", pod: "vllm-0") { $0.waiting = 30 }
            try await Self.eventually("back from zero and up") { (rig.replicas ?? 0) >= 2 && rig.budget != nil }
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()

        let granted = try Self.grants()
        let used = Set(rig.server.requests.compactMap(Self.grant))
        let notGranted = used.subtracting(granted)
        #expect(notGranted.isEmpty, "requests the install does not allow: \(notGranted.sorted())")
        let unused = granted.subtracting(used).subtracting(Self.grantedForPathsNotRun.keys)
        #expect(unused.isEmpty, "granted but never used: \(unused.sorted())")
        // A listed grant may still be used by chance (a reconcile before the Deployment cache's first list reads
        // /scale): the list only excuses, it does not forbid.
        #expect(Self.grantedForPathsNotRun.keys.allSatisfy(granted.contains), "a listed grant is not in config/rbac")
    }

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
