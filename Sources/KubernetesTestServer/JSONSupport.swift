import AutoscalerCore
import Foundation

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

    var objectMembers: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }

    var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The value as an integer when it is a whole number.
    var intValue: Int? {
        if case .number(let value) = self, value.rounded() == value, abs(value) < 9.0e15 { return Int(value) }
        return nil
    }

    /// The value at a dotted path of object keys (`spec.selector.matchLabels`), or nil.
    func value(at path: String) -> JSONValue? {
        value(at: path.split(separator: ".").map(String.init))
    }

    func value(at path: [String]) -> JSONValue? {
        var current = self
        for key in path {
            guard let next = current[key] else { return nil }
            current = next
        }
        return current
    }

    /// Sets (or with nil removes) the value at a dotted path, creating intermediate objects.
    mutating func setValue(_ newValue: JSONValue?, at path: String) {
        setValue(newValue, at: path.split(separator: ".").map(String.init)[...])
    }

    private mutating func setValue(_ newValue: JSONValue?, at path: ArraySlice<String>) {
        guard let key = path.first else {
            if let newValue { self = newValue }
            return
        }
        var members = objectMembers ?? [:]
        if path.count == 1 {
            members[key] = newValue
        } else {
            var child = members[key] ?? .object([:])
            if child.objectMembers == nil { child = .object([:]) }
            child.setValue(newValue, at: path.dropFirst())
            members[key] = child
        }
        self = .object(members)
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
