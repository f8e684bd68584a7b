import Foundation

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

    /// An object whose metadata is kept only in its typed form (`json` then holds the other members).
    public init(json: JSONValue, metadata: ObjectMeta) {
        self.json = json
        self.metadata = metadata
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
