import Foundation

/// Any JSON value. Used where the API carries free-form data (unknown metadata fields) and to move YAML documents
/// into the same `JSONDecoder` path that objects from the Kubernetes API take.
public enum JSONValue: Sendable, Equatable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The member `key` of an object, or nil.
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var objectMembers: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The value as an integer when it is a whole number.
    public var intValue: Int? {
        if case .number(let value) = self, value.rounded() == value, abs(value) < 9.0e15 { return Int(value) }
        return nil
    }

    /// The value at a dotted path of object keys (`spec.selector.matchLabels`), or nil.
    public func value(at path: String) -> JSONValue? {
        value(at: path.split(separator: ".").map(String.init))
    }

    public func value(at path: [String]) -> JSONValue? {
        var current = self
        for key in path {
            guard let next = current[key] else { return nil }
            current = next
        }
        return current
    }

    /// Sets (or with nil removes) the value at a dotted path, creating intermediate objects (also when removing:
    /// `a.b` removed from `{}` leaves `{"a":{}}`); a member on the way that is not an object becomes one.
    public mutating func setValue(_ newValue: JSONValue?, at path: String) {
        setValue(newValue, at: path.split(separator: ".").map(String.init))
    }

    /// Sets (or with nil removes) the value at a path of object keys, creating intermediate objects.
    public mutating func setValue(_ newValue: JSONValue?, at path: [String]) {
        setValue(newValue, at: path[...])
    }

    /// A copy with the value at a dotted path set (or with nil removed).
    public func setting(_ newValue: JSONValue?, at path: String) -> JSONValue {
        var copy = self
        copy.setValue(newValue, at: path)
        return copy
    }

    /// A copy with the value at a path of object keys set (or with nil removed).
    public func setting(_ newValue: JSONValue?, at path: [String]) -> JSONValue {
        var copy = self
        copy.setValue(newValue, at: path)
        return copy
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

    /// Compact JSON text with sorted keys, so equal values serialize identically.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            // Whole numbers go out as integers: the API server rejects 3.0 where it expects an int32.
            if value.rounded() == value, abs(value) < 9.0e15 {
                try container.encode(Int64(value))
            } else {
                try container.encode(value)
            }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

/// Coding keys for arbitrary member names.
struct AnyCodingKey: CodingKey, Hashable {
    var stringValue: String
    var intValue: Int?
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) {
        stringValue = String(intValue)
        self.intValue = intValue
    }
}
