import Foundation

/// `metav1.ObjectMeta`: the fields the controller reads are typed; every other member is kept as it came, so an
/// object read from the API and written back loses nothing.
public struct ObjectMeta: Sendable, Equatable {
    public var name: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int?
    public var creationTimestamp: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    /// Members not listed above (ownerReferences, finalizers, managedFields, …), kept verbatim.
    public var additionalFields: [String: JSONValue]

    public init(
        name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil,
        annotations: [String: String]? = nil
    ) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
        self.additionalFields = [:]
    }
}

extension ObjectMeta: Codable {
    private static let typedKeys: Set<String> = [
        "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "labels", "annotations",
    ]

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyCodingKey.self)
        func key(_ name: String) -> AnyCodingKey { AnyCodingKey(name) }
        name = try container.decodeIfPresent(String.self, forKey: key("name"))
        namespace = try container.decodeIfPresent(String.self, forKey: key("namespace"))
        uid = try container.decodeIfPresent(String.self, forKey: key("uid"))
        resourceVersion = try container.decodeIfPresent(String.self, forKey: key("resourceVersion"))
        generation = try container.decodeIfPresent(Int.self, forKey: key("generation"))
        creationTimestamp = try container.decodeIfPresent(String.self, forKey: key("creationTimestamp"))
        labels = try container.decodeIfPresent([String: String].self, forKey: key("labels"))
        annotations = try container.decodeIfPresent([String: String].self, forKey: key("annotations"))
        var rest: [String: JSONValue] = [:]
        for member in container.allKeys where !Self.typedKeys.contains(member.stringValue) {
            rest[member.stringValue] = try container.decode(JSONValue.self, forKey: member)
        }
        additionalFields = rest
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyCodingKey.self)
        for (member, value) in additionalFields where !Self.typedKeys.contains(member) {
            try container.encode(value, forKey: AnyCodingKey(member))
        }
        try container.encodeIfPresent(name, forKey: AnyCodingKey("name"))
        try container.encodeIfPresent(namespace, forKey: AnyCodingKey("namespace"))
        try container.encodeIfPresent(uid, forKey: AnyCodingKey("uid"))
        try container.encodeIfPresent(resourceVersion, forKey: AnyCodingKey("resourceVersion"))
        try container.encodeIfPresent(generation, forKey: AnyCodingKey("generation"))
        try container.encodeIfPresent(creationTimestamp, forKey: AnyCodingKey("creationTimestamp"))
        try container.encodeIfPresent(labels, forKey: AnyCodingKey("labels"))
        try container.encodeIfPresent(annotations, forKey: AnyCodingKey("annotations"))
    }
}
