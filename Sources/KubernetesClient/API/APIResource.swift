import AutoscalerCore
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
    public static let namespaces = APIResource(group: "", version: "v1", name: "namespaces", kind: "Namespace", namespaced: false)
    public static let events = APIResource(group: "events.k8s.io", version: "v1", name: "events", kind: "Event")
    public static let coreEvents = APIResource(group: "", version: "v1", name: "events", kind: "Event")
    public static let secrets = APIResource(group: "", version: "v1", name: "secrets", kind: "Secret")
    public static let configMaps = APIResource(group: "", version: "v1", name: "configmaps", kind: "ConfigMap")
    public static let deployments = APIResource(group: "apps", version: "v1", name: "deployments", kind: "Deployment")
    public static let statefulSets = APIResource(group: "apps", version: "v1", name: "statefulsets", kind: "StatefulSet")
    public static let podDisruptionBudgets = APIResource(
        group: "policy", version: "v1", name: "poddisruptionbudgets", kind: "PodDisruptionBudget")
    public static let leases = APIResource(group: "coordination.k8s.io", version: "v1", name: "leases", kind: "Lease")
    public static let horizontalPodAutoscalers = APIResource(
        group: "autoscaling", version: "v2", name: "horizontalpodautoscalers", kind: "HorizontalPodAutoscaler")
    public static let inferenceAutoscalePolicies = APIResource(
        group: "autoscaling.inference.dev", version: "v1alpha1", name: "inferenceautoscalepolicies",
        kind: "InferenceAutoscalePolicy")
}

/// Any object the API serves: something with `metadata`.
public protocol KubernetesObject: Codable, Sendable {
    var metadata: ObjectMeta { get }
}

extension InferenceAutoscalePolicy: KubernetesObject {}

/// An object of any kind, kept as JSON, with its metadata decoded.
public struct DynamicObject: KubernetesObject, Equatable {
    public var json: JSONValue
    public var metadata: ObjectMeta

    public init(_ json: JSONValue) throws {
        self.json = json
        let data = try (json["metadata"] ?? .object([:])).jsonData()
        self.metadata = try JSONDecoder().decode(ObjectMeta.self, from: data)
    }

    public init(from decoder: any Decoder) throws {
        try self.init(JSONValue(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try json.encode(to: encoder)
    }

    /// The value at a path of member names: `object["spec", "replicas"]`.
    public subscript(path: String...) -> JSONValue? {
        var value: JSONValue? = json
        for key in path { value = value?[key] }
        return value
    }
}

/// A list response: the items and where the list stands.
public struct ObjectList<Item: Decodable & Sendable>: Decodable, Sendable {
    public struct Metadata: Decodable, Sendable {
        public var resourceVersion: String?
        /// Present when more pages follow.
        public var `continue`: String?

        public init(resourceVersion: String?, continue token: String? = nil) {
            self.resourceVersion = resourceVersion
            self.continue = token
        }
    }

    public var metadata: Metadata
    public var items: [Item]

    public init(metadata: Metadata, items: [Item]) {
        self.metadata = metadata
        self.items = items
    }

    private enum CodingKeys: String, CodingKey { case metadata, items }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try container.decodeIfPresent(Metadata.self, forKey: .metadata) ?? Metadata(resourceVersion: nil)
        // The API server writes `"items": null` for an empty list of some kinds.
        items = try container.decodeIfPresent([Item].self, forKey: .items) ?? []
    }
}


/// `autoscaling/v1` `Scale`: the `/scale` subresource of any scalable workload.
public struct Scale: Codable, Sendable, Equatable {
    public struct Spec: Codable, Sendable, Equatable {
        public var replicas: Int?

        public init(replicas: Int?) { self.replicas = replicas }
    }

    public struct Status: Codable, Sendable, Equatable {
        public var replicas: Int?
        /// The pods' label selector in string form: `app=vllm,tier=gpu`.
        public var selector: String?

        public init(replicas: Int?, selector: String?) {
            self.replicas = replicas
            self.selector = selector
        }
    }

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public init(apiVersion: String?, kind: String?, metadata: ObjectMeta, spec: Spec?, status: Status?) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public var desiredReplicas: Int { spec?.replicas ?? 0 }
    public var currentReplicas: Int { status?.replicas ?? 0 }
}
