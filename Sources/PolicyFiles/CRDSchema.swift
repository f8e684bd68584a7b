import AutoscalerCore
import Foundation
import KubernetesModel

/// Why a schema could not be read.
public struct SchemaError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One node of the CRD's structural schema, with the keywords the API server's schema validation applies.
public final class SchemaNode: Sendable {
    public let type: String?
    public let description: String?
    public let properties: [String: SchemaNode]
    public let required: [String]
    public let items: SchemaNode?
    /// `additionalProperties` given as a schema: a map with free keys.
    public let additionalProperties: SchemaNode?
    public let enumValues: [JSONValue]?
    public let pattern: String?
    public let format: String?
    public let minimum: Double?
    public let maximum: Double?
    public let exclusiveMinimum: Bool
    public let exclusiveMaximum: Bool
    public let minLength: Int?
    public let maxLength: Int?
    public let minItems: Int?
    public let maxItems: Int?
    public let anyOf: [SchemaNode]
    public let intOrString: Bool
    public let preserveUnknownFields: Bool
    public let listType: String?
    public let listMapKeys: [String]

    public init(_ value: JSONValue) throws(SchemaError) {
        guard case .object(let members) = value else { throw SchemaError("a schema node is not an object") }
        func string(_ key: String) -> String? {
            if case .string(let text)? = members[key] { return text }
            return nil
        }
        func number(_ key: String) -> Double? {
            if case .number(let number)? = members[key] { return number }
            return nil
        }
        func flag(_ key: String) -> Bool {
            if case .bool(let flag)? = members[key] { return flag }
            return false
        }
        func strings(_ key: String) -> [String] {
            guard case .array(let items)? = members[key] else { return [] }
            return items.compactMap { if case .string(let text) = $0 { text } else { nil } }
        }
        type = string("type")
        description = string("description")
        var properties: [String: SchemaNode] = [:]
        if case .object(let declared)? = members["properties"] {
            for (name, child) in declared { properties[name] = try SchemaNode(child) }
        }
        self.properties = properties
        required = strings("required")
        items = try members["items"].map { value throws(SchemaError) in try SchemaNode(value) }
        if case .object? = members["additionalProperties"] {
            additionalProperties = try members["additionalProperties"].map { value throws(SchemaError) in
                try SchemaNode(value)
            }
        } else {
            additionalProperties = nil
        }
        if case .array(let values)? = members["enum"] { enumValues = values } else { enumValues = nil }
        pattern = string("pattern")
        format = string("format")
        minimum = number("minimum")
        maximum = number("maximum")
        exclusiveMinimum = flag("exclusiveMinimum")
        exclusiveMaximum = flag("exclusiveMaximum")
        minLength = number("minLength").map(Int.init)
        maxLength = number("maxLength").map(Int.init)
        minItems = number("minItems").map(Int.init)
        maxItems = number("maxItems").map(Int.init)
        if case .array(let alternatives)? = members["anyOf"] {
            anyOf = try alternatives.map { value throws(SchemaError) in try SchemaNode(value) }
        } else {
            anyOf = []
        }
        intOrString = flag("x-kubernetes-int-or-string")
        preserveUnknownFields = flag("x-kubernetes-preserve-unknown-fields")
        listType = string("x-kubernetes-list-type")
        listMapKeys = strings("x-kubernetes-list-map-keys")
    }

    /// A node below which field names are data, not schema: a map, or a value kept as it comes.
    public var isOpaque: Bool { additionalProperties != nil || preserveUnknownFields }
}

/// What the API server checks against a CRD's structural schema before CEL: types, required members, enums,
/// patterns, bounds, sizes, maps, int-or-string and preserved values, and list-map keys. Unknown fields are errors,
/// as with `kubectl apply`'s default strict field validation. Root metadata is ObjectMeta, which the API server
/// checks itself.
public enum SchemaValidator {
    public struct Failure: Sendable, Equatable, CustomStringConvertible {
        public var path: String
        public var problem: String
        public var description: String { "\(path): \(problem)" }

        public init(path: String, problem: String) {
            self.path = path
            self.problem = problem
        }
    }

    public static func errors(in document: JSONValue, against root: SchemaNode) -> [Failure] {
        var failures: [Failure] = []
        validate(document, root, "", &failures)
        return failures
    }

    private static func validate(
        _ value: JSONValue, _ schema: SchemaNode, _ path: String, _ failures: inout [Failure]
    ) {
        func fail(_ problem: String) { failures.append(Failure(path: path, problem: problem)) }

        // 1. Type.
        if case .null = value {
            fail("must not be null")
            return
        }
        if schema.intOrString {
            guard isInteger(value) || value.isString else { return fail("must be an integer or a string") }
        } else if let type = schema.type, !matches(value, type) {
            return fail("must be of type \(type)")
        }
        if !schema.anyOf.isEmpty {
            let passing = schema.anyOf.contains { alternative in
                var scratch: [Failure] = []
                validate(value, alternative, path, &scratch)
                return scratch.isEmpty
            }
            if !passing { fail("matches none of anyOf") }
        }
        if let allowed = schema.enumValues, !allowed.contains(value) {
            fail("must be one of \(allowed.map(describe).joined(separator: ", "))")
        }

        // 2. The checks for the kind of value at hand (with no declared type, each applies to its own kind).
        switch value {
        case .string(let text):
            let length = text.unicodeScalars.count
            if let minLength = schema.minLength, length < minLength { fail("shorter than \(minLength)") }
            if let maxLength = schema.maxLength, length > maxLength { fail("longer than \(maxLength)") }
            if let pattern = schema.pattern {
                guard let regex = try? NSRegularExpression(pattern: pattern) else {
                    return fail("the schema's pattern does not compile: \(pattern)")
                }
                let range = NSRange(text.startIndex..., in: text)
                if regex.firstMatch(in: text, range: range) == nil { fail("does not match \(pattern)") }
            }
            if schema.format == "date-time", Timestamp.parse(text) == nil { fail("not an RFC 3339 date-time") }
        case .number(let number):
            if let minimum = schema.minimum {
                if schema.exclusiveMinimum ? number <= minimum : number < minimum {
                    let bound = schema.exclusiveMinimum ? "greater than" : "at least"
                    fail("must be \(bound) \(describe(.number(minimum)))")
                }
            }
            if let maximum = schema.maximum {
                if schema.exclusiveMaximum ? number >= maximum : number > maximum {
                    let bound = schema.exclusiveMaximum ? "less than" : "at most"
                    fail("must be \(bound) \(describe(.number(maximum)))")
                }
            }
            if schema.format == "int32", isInteger(value), !(Double(Int32.min)...Double(Int32.max)).contains(number) {
                fail("out of the int32 range")
            }
        case .array(let items):
            if let minItems = schema.minItems, items.count < minItems { fail("fewer than \(minItems) items") }
            if let maxItems = schema.maxItems, items.count > maxItems { fail("more than \(maxItems) items") }
            if let itemSchema = schema.items {
                for (index, item) in items.enumerated() { validate(item, itemSchema, "\(path)[\(index)]", &failures) }
            }
            if schema.listType == "map", !schema.listMapKeys.isEmpty {
                var seen: Set<[JSONValue]> = []
                for (index, item) in items.enumerated() {
                    let key = schema.listMapKeys.map { item[$0] ?? .null }
                    if !seen.insert(key).inserted {
                        failures.append(Failure(path: "\(path)[\(index)]", problem: "duplicate \(schema.listMapKeys)"))
                    }
                }
            }
        case .object(let members):
            if path == "metadata" { return }
            for name in schema.required where members[name] == nil {
                failures.append(Failure(path: join(path, name), problem: "required"))
            }
            for (name, member) in members.sorted(by: { $0.key < $1.key }) {
                if let property = schema.properties[name] {
                    validate(member, property, join(path, name), &failures)
                } else if let values = schema.additionalProperties {
                    validate(member, values, join(path, name), &failures)
                } else if !schema.preserveUnknownFields {
                    failures.append(Failure(path: join(path, name), problem: "unknown field"))
                }
            }
        case .bool, .null:
            break
        }
    }

    private static func join(_ path: String, _ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    private static func matches(_ value: JSONValue, _ type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("number", .number):
            true
        case ("integer", _):
            isInteger(value)
        default:
            false
        }
    }

    private static func isInteger(_ value: JSONValue) -> Bool {
        if case .number(let number) = value { return number.isFinite && number.rounded() == number }
        return false
    }

    private static func describe(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): "\"\(text)\""
        case .number(let number) where number.rounded() == number && abs(number) < 1e15: String(Int64(number))
        case .number(let number): String(number)
        case .bool(let flag): String(flag)
        default: "\(value)"
        }
    }
}

extension JSONValue {
    fileprivate var isString: Bool {
        if case .string = self { return true }
        return false
    }
}

/// The schema of the CRD this binary ships (`crds/`, embedded by `scripts/embed-crd.sh`): `validate` checks policies
/// against it as the API server would, so that what passes offline also passes `kubectl apply`.
public enum ShippedSchema {
    /// The `openAPIV3Schema` of the CRD's one version; nil only if the embedded CRD were broken (a test guards it).
    public static let root: SchemaNode? = {
        guard let document = try? PolicyFiles.documents(EmbeddedCRD.yaml, file: "embedded CRD").first,
            case .array(let versions)? = document["spec"]?["versions"],
            let schema = versions.first?["schema"]?["openAPIV3Schema"]
        else { return nil }
        return try? SchemaNode(schema)
    }()

    /// The embedded CRD's text, to compare with the file in `crds/`.
    public static var crdText: String { EmbeddedCRD.yaml }

    /// The structural problems of a policy document, `status` left out (the API server ignores it on create and
    /// apply; the controller owns it).
    public static func violations(of document: JSONValue) -> [PolicyViolation] {
        guard let root, case .object(var members) = document else { return [] }
        members["status"] = nil
        return SchemaValidator.errors(in: .object(members), against: root).map {
            PolicyViolation($0.path, $0.problem)
        }
    }
}
