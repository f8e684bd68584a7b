import AutoscalerCore
import Foundation
import KubernetesModel

/// The PodDisruptionBudget a policy manages: named after the policy, owned by it (garbage-collected with it), with
/// the target's pod selector.
enum DisruptionBudgetManifest {
    static func make(
        for policy: InferenceAutoscalePolicy, budget: ResolvedPolicy.DisruptionBudget, selector: LabelSelector
    ) -> JSONValue {
        var spec: [String: JSONValue] = ["selector": selector.object]
        switch budget {
        case .maxUnavailable(let value): spec["maxUnavailable"] = json(value)
        case .minAvailable(let value): spec["minAvailable"] = json(value)
        }
        var owner: [String: JSONValue] = [
            "apiVersion": .string(InferenceAutoscalePolicy.apiVersion), "kind": .string(InferenceAutoscalePolicy.kind),
            "name": .string(policy.metadata.name ?? ""), "controller": .bool(true), "blockOwnerDeletion": .bool(true),
        ]
        if let uid = policy.metadata.uid { owner["uid"] = .string(uid) }
        return .object([
            "apiVersion": .string("policy/v1"), "kind": .string("PodDisruptionBudget"),
            "metadata": .object([
                "name": .string(policy.metadata.name ?? ""),
                "namespace": .string(policy.metadata.namespace ?? "default"),
                "labels": .object(["app.kubernetes.io/managed-by": .string("inference-autoscaler")]),
                "ownerReferences": .array([.object(owner)]),
            ]),
            "spec": .object(spec),
        ])
    }

    /// How many pods the budget lets a drain evict at `replicas` (the disruption controller's arithmetic:
    /// percentages of maxUnavailable round up, of minAvailable round up too).
    static func allowedDisruptions(_ budget: ResolvedPolicy.DisruptionBudget, replicas: Int) -> Int {
        func count(_ value: IntOrString) -> Int {
            switch value {
            case .int(let number): return number
            case .string(let text):
                let percent = Double(text.dropLast()) ?? 0
                return Int((Double(replicas) * percent / 100).rounded(.up))
            }
        }
        switch budget {
        case .maxUnavailable(let value): return max(0, min(replicas, count(value)))
        case .minAvailable(let value): return max(0, replicas - count(value))
        }
    }

    private static func json(_ value: IntOrString) -> JSONValue {
        switch value {
        case .int(let number): .number(Double(number))
        case .string(let text): .string(text)
        }
    }
}
