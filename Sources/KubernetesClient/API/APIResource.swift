import Foundation

/// A resource type of the API: where its objects live.
public struct APIResource: Sendable, Hashable, CustomStringConvertible {
    /// "" for the core group.
    public var group: String
    public var version: String
    /// The plural path segment: `deployments`.
    public var name: String
    public var kind: String
    public var namespaced: Bool

    public init(group: String, version: String, name: String, kind: String, namespaced: Bool = true) {
        self.group = group
        self.version = version
        self.name = name
        self.kind = kind
        self.namespaced = namespaced
    }

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// `deployments.apps`, as the API names it in messages.
    public var description: String { group.isEmpty ? name : "\(name).\(group)" }

    /// The path of the collection, or of one object and its subresource.
    public func path(namespace: String? = nil, name objectName: String? = nil, subresource: String? = nil) -> String {
        var path = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if namespaced, let namespace { path += "/namespaces/\(PercentEncoding.component(namespace))" }
        path += "/\(name)"
        if let objectName {
            path += "/\(PercentEncoding.component(objectName))"
            if let subresource { path += "/\(subresource)" }
        }
        return path
    }

    public static let pods = APIResource(group: "", version: "v1", name: "pods", kind: "Pod")
    public static let namespaces = APIResource(
        group: "", version: "v1", name: "namespaces", kind: "Namespace", namespaced: false)
    public static let events = APIResource(group: "events.k8s.io", version: "v1", name: "events", kind: "Event")
    public static let coreEvents = APIResource(group: "", version: "v1", name: "events", kind: "Event")
    public static let secrets = APIResource(group: "", version: "v1", name: "secrets", kind: "Secret")
    public static let resourceQuotas = APIResource(
        group: "", version: "v1", name: "resourcequotas", kind: "ResourceQuota")
    public static let configMaps = APIResource(group: "", version: "v1", name: "configmaps", kind: "ConfigMap")
    public static let deployments = APIResource(group: "apps", version: "v1", name: "deployments", kind: "Deployment")
    public static let statefulSets = APIResource(
        group: "apps", version: "v1", name: "statefulsets", kind: "StatefulSet")
    public static let podDisruptionBudgets = APIResource(
        group: "policy", version: "v1", name: "poddisruptionbudgets", kind: "PodDisruptionBudget")
    public static let leases = APIResource(group: "coordination.k8s.io", version: "v1", name: "leases", kind: "Lease")
    public static let horizontalPodAutoscalers = APIResource(
        group: "autoscaling", version: "v2", name: "horizontalpodautoscalers", kind: "HorizontalPodAutoscaler")
    public static let kedaScaledObjects = APIResource(
        group: "keda.sh", version: "v1alpha1", name: "scaledobjects", kind: "ScaledObject")
    public static let kedaTriggerAuthentications = APIResource(
        group: "keda.sh", version: "v1alpha1", name: "triggerauthentications", kind: "TriggerAuthentication")
    public static let inferenceAutoscalePolicies = APIResource(
        group: "autoscaling.inference.dev", version: "v1alpha1", name: "inferenceautoscalepolicies",
        kind: "InferenceAutoscalePolicy")
}
