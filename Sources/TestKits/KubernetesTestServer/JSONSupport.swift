import Foundation
import KubernetesModel

extension JSONValue {
    /// Parses JSON text; nil when it is not JSON.
    static func parse(_ data: Data) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// Compact JSON text with sorted keys.
    var serialized: Data {
        // Encoding a JSONValue cannot fail: it holds only JSON types (non-finite numbers never get in, since they
        // come from parsed JSON or from integers).
        (try? jsonData()) ?? Data("null".utf8)
    }

    /// Metadata accessors for Kubernetes objects.
    var metadata: [String: JSONValue] { self["metadata"]?.objectMembers ?? [:] }
    var name: String { metadata["name"]?.stringValue ?? "" }
    var namespace: String { metadata["namespace"]?.stringValue ?? "" }
    var resourceVersion: String { metadata["resourceVersion"]?.stringValue ?? "" }
    var labels: [String: String] {
        var labels: [String: String] = [:]
        for (key, value) in metadata["labels"]?.objectMembers ?? [:] {
            if let text = value.stringValue { labels[key] = text }
        }
        return labels
    }

    /// Replaces one metadata member (nil removes it).
    mutating func setMetadata(_ key: String, _ newValue: JSONValue?) {
        var members = objectMembers ?? [:]
        var metadata = members["metadata"]?.objectMembers ?? [:]
        metadata[key] = newValue
        members["metadata"] = .object(metadata)
        self = .object(members)
    }

    /// Removes a top-level member.
    func removing(_ key: String) -> JSONValue {
        guard var members = objectMembers else { return self }
        members[key] = nil
        return .object(members)
    }
}

extension Data {
    /// Base64url without padding (Go's `base64.RawURLEncoding`), as continue tokens use it.
    var base64URLEncoded: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    init?(base64URLEncoded text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        self.init(base64Encoded: base64)
    }
}
