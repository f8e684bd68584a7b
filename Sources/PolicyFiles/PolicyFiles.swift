import AutoscalerCore
import Foundation
import KubernetesModel
import Yams

/// A file that could not be read or parsed at all.
public struct PolicyFileError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var column: Int?
    public var problem: String

    public init(file: String, line: Int? = nil, column: Int? = nil, problem: String) {
        self.file = file
        self.line = line
        self.column = column
        self.problem = problem
    }

    /// `FILE:LINE:COLUMN: PROBLEM`, the form editors jump to.
    public var description: String {
        var location = file
        if let line { location += ":\(line)" }
        if let column { location += ":\(column)" }
        return "\(location): \(problem)"
    }
}

/// One document of a policy file.
public struct PolicyDocument: Sendable {
    /// 0-based position of the document in its file (items of a `List` count one each).
    public var index: Int
    /// The line where the document (or list item) starts.
    public var line: Int?
    /// The document as JSON, the same form the Kubernetes API serves.
    public var json: JSONValue
    /// The policy, with any value of the wrong JSON type left out; nil when the document is not an object.
    public var policy: InferenceAutoscalePolicy?
    /// Values of the wrong JSON type (a number where a duration string belongs, …), with their field paths.
    public var typeViolations: [PolicyViolation]

    /// Every problem at once, one per field path: wrong types, the validator's findings for the rest of the
    /// document, then what else the CRD's schema rejects (unknown fields such as a misspelt `scaleDwon`, lengths,
    /// counts, int32 bounds: what `kubectl apply` would refuse).
    public var violations: [PolicyViolation] {
        var all = typeViolations
        var reported = Set(typeViolations.map(\.path))
        // A value left out for its type is not also "required".
        if let policy {
            for violation in PolicyValidator.violations(of: policy) where !reported.contains(violation.path) {
                all.append(violation)
            }
            reported.formUnion(all.map(\.path))
        }
        for violation in ShippedSchema.violations(of: json) where !reported.contains(violation.path) {
            all.append(violation)
            reported.insert(violation.path)
        }
        return all
    }

    /// `namespace/name` as `validate` prints it (`default` when no namespace is set, as kubectl would apply it).
    public var displayName: String {
        let namespace = json["metadata"]?["namespace"].flatMap(\.stringValue) ?? "default"
        let name = json["metadata"]?["name"].flatMap(\.stringValue) ?? "<unnamed #\(index + 1)>"
        return "\(namespace)/\(name)"
    }
}

/// A document in a policy file that is some other kind of object (a Deployment next to its policy).
public struct SkippedDocument: Sendable, Equatable {
    public var index: Int
    public var line: Int?
    public var apiVersion: String
    public var kind: String
}

/// Reads policies from YAML or JSON files: several documents per file (`---`), and `kind: List` as `kubectl get -o
/// yaml` writes it.
public enum PolicyFiles {
    public struct Contents: Sendable {
        public var policies: [PolicyDocument]
        public var skipped: [SkippedDocument]
    }

    /// Reads and parses `path`; throws when the file cannot be read or is not YAML/JSON.
    public static func load(_ path: String) throws(PolicyFileError) -> Contents {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw PolicyFileError(file: path, problem: "cannot read file: \(readProblem(path))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PolicyFileError(file: path, problem: "not UTF-8 text")
        }
        return try parse(text, file: path)
    }

    /// Parses the text of a policy file; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(PolicyFileError) -> Contents {
        var roots: [Node] = []
        do {
            var sequence = try Yams.compose_all(yaml: text, resolver)
            while let node = sequence.next() { roots.append(node) }
            if let error = sequence.error { throw error }
        } catch let error as YamlError {
            throw syntaxError(error, file: file)
        } catch {
            throw PolicyFileError(file: file, problem: "\(error)")
        }

        var contents = Contents(policies: [], skipped: [])
        var index = 0
        for root in roots {
            let value: JSONValue
            do {
                value = try jsonValue(root)
            } catch {
                throw PolicyFileError(file: file, line: error.line, column: error.column, problem: error.problem)
            }
            if case .null = value { continue }
            var items: [(JSONValue, Int?)] = [(value, root.mark?.line)]
            if value["kind"]?.stringValue == "List", case .array(let listed)? = value["items"] {
                let marks = itemLines(root)
                items = listed.enumerated().map { ($0.element, $0.offset < marks.count ? marks[$0.offset] : nil) }
            }
            for (item, line) in items {
                defer { index += 1 }
                let apiVersion = item["apiVersion"]?.stringValue ?? ""
                let kind = item["kind"]?.stringValue ?? ""
                let isPolicy =
                    kind == InferenceAutoscalePolicy.kind
                    || apiVersion.hasPrefix("autoscaling.inference.dev/") || (apiVersion.isEmpty && kind.isEmpty)
                guard isPolicy else {
                    contents.skipped.append(.init(index: index, line: line, apiVersion: apiVersion, kind: kind))
                    continue
                }
                let decoded = decodeLeniently(item)
                contents.policies.append(
                    PolicyDocument(
                        index: index, line: line, json: item, policy: decoded.policy,
                        typeViolations: decoded.violations))
            }
        }
        return contents
    }

    /// Every document of a YAML (or JSON) text as JSON, typed as Kubernetes reads YAML; nulls for empty documents.
    public static func documents(_ text: String, file: String) throws(PolicyFileError) -> [JSONValue] {
        var values: [JSONValue] = []
        do {
            var sequence = try Yams.compose_all(yaml: text, resolver)
            while let node = sequence.next() { values.append(try jsonValue(node)) }
            if let error = sequence.error { throw error }
        } catch let error as YamlError {
            throw syntaxError(error, file: file)
        } catch let error as NodeError {
            throw PolicyFileError(file: file, line: error.line, column: error.column, problem: error.problem)
        } catch {
            throw PolicyFileError(file: file, problem: "\(error)")
        }
        return values
    }

    /// Decodes a policy from its JSON form. A value of the wrong type becomes a violation at its field path and is
    /// left out, and decoding goes on, so that one run reports every problem.
    public static func decodeLeniently(
        _ value: JSONValue
    ) -> (policy: InferenceAutoscalePolicy?, violations: [PolicyViolation]) {
        var document = value
        var violations: [PolicyViolation] = []
        // Each pass removes one offending value, so the number of values bounds the passes.
        for _ in 0...value.nodeCount {
            do {
                let data = try document.jsonData()
                return (try JSONDecoder().decode(InferenceAutoscalePolicy.self, from: data), violations)
            } catch let error as DecodingError {
                violations.append(violation(for: error))
                guard let path = codingPath(of: error), !path.isEmpty,
                    let pruned = document.removing(
                        at: path.map { $0.intValue.map(JSONPathKey.index) ?? .key($0.stringValue) })
                else { return (nil, violations) }
                document = pruned
            } catch {
                return (nil, violations + [PolicyViolation("", "\(error)")])
            }
        }
        return (nil, violations)
    }

    private static func codingPath(of error: DecodingError) -> [any CodingKey]? {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            context.codingPath
        case .keyNotFound:
            nil
        @unknown default:
            nil
        }
    }

    /// A decoding error as a violation at its field path.
    public static func violation(for error: DecodingError) -> PolicyViolation {
        switch error {
        case .typeMismatch(let type, let context):
            return PolicyViolation(path(context.codingPath), "expected \(typeName(type))")
        case .valueNotFound(let type, let context):
            return PolicyViolation(path(context.codingPath), "expected \(typeName(type)), got null")
        case .keyNotFound(let key, let context):
            return PolicyViolation(path(context.codingPath + [key]), "required")
        case .dataCorrupted(let context):
            return PolicyViolation(path(context.codingPath), context.debugDescription)
        @unknown default:
            return PolicyViolation("", "\(error)")
        }
    }

    /// `spec.signals[1].target` from a coding path.
    public static func path(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int64.Type, is Int32.Type: "an integer"
        case is Double.Type: "a number"
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is [Any].Type: "a list"
        case is NumberOrString.Type: "a number or a string"
        case is IntOrString.Type: "an integer or a string"
        default:
            String(describing: type).contains("Dictionary") ? "a mapping" : "a value of type \(type)"
        }
    }

    // MARK: - YAML to JSON

    /// YAML 1.1 core types as Kubernetes reads them; timestamps stay strings.
    private static let resolver = Resolver.default.removing(.timestamp).removing(.value)

    struct NodeError: Error {
        var line: Int?
        var column: Int?
        var problem: String
    }

    static func jsonValue(_ node: Node) throws(NodeError) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: return .null
            case .bool: if let value = node.bool { return .bool(value) }
            case .int: if let value = node.int { return .number(Double(value)) }
            case .float:
                // NaN and infinities have no JSON form; kept as text they fail where a number is expected.
                if let value = node.float, value.isFinite { return .number(value) }
            default: break
            }
            return .string(scalar.string)
        case .mapping(let mapping):
            var members: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else {
                    throw NodeError(
                        line: key.mark?.line, column: key.mark?.column, problem: "mapping keys must be scalars")
                }
                if members[keyScalar.string] != nil {
                    throw NodeError(
                        line: key.mark?.line, column: key.mark?.column,
                        problem: "duplicate key \"\(keyScalar.string)\"")
                }
                members[keyScalar.string] = try jsonValue(value)
            }
            return .object(members)
        case .sequence(let sequence):
            var items: [JSONValue] = []
            for item in sequence { items.append(try jsonValue(item)) }
            return .array(items)
        case .alias:
            throw NodeError(line: node.mark?.line, column: node.mark?.column, problem: "YAML aliases are not supported")
        }
    }

    private static func itemLines(_ root: Node) -> [Int?] {
        guard case .mapping(let mapping) = root else { return [] }
        for (key, value) in mapping where key.string == "items" {
            if case .sequence(let sequence) = value { return sequence.map { $0.mark?.line } }
        }
        return []
    }

    private static func syntaxError(_ error: YamlError, file: String) -> PolicyFileError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let prefix = context.map { "\($0.text) " } ?? ""
            return PolicyFileError(file: file, line: mark.line, column: mark.column, problem: "\(prefix)\(problem)")
        case .reader(let problem, let offset, _, let yaml):
            var line: Int?
            var column: Int?
            if let offset {
                let prefix = yaml.utf8.prefix(offset)
                line = prefix.filter { $0 == 10 }.count + 1
                column =
                    prefix.count
                    - (prefix.lastIndex(of: 10).map { prefix.distance(from: prefix.startIndex, to: $0) + 1 } ?? 0) + 1
            }
            return PolicyFileError(file: file, line: line, column: column, problem: problem)
        default:
            return PolicyFileError(file: file, problem: error.description)
        }
    }

    private static func readProblem(_ path: String) -> String {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) { return "no such file" }
        if isDirectory.boolValue { return "is a directory" }
        return "permission denied or unreadable"
    }
}

enum JSONPathKey {
    case key(String)
    case index(Int)
}

extension JSONValue {
    /// How many values the document holds, itself included.
    var nodeCount: Int {
        switch self {
        case .array(let items): 1 + items.reduce(0) { $0 + $1.nodeCount }
        case .object(let members): 1 + members.values.reduce(0) { $0 + $1.nodeCount }
        default: 1
        }
    }

    /// The document without the value at `path`: a member is removed, a list item becomes an empty object (so that
    /// the indices of the others, and so their field paths, stay as the user wrote them). Nil when there is none.
    func removing(at path: [JSONPathKey]) -> JSONValue? {
        guard let first = path.first else { return nil }
        let rest = Array(path.dropFirst())
        switch (self, first) {
        case (.object(var members), .key(let key)):
            guard let member = members[key] else { return nil }
            if rest.isEmpty {
                members[key] = nil
            } else {
                guard let pruned = member.removing(at: rest) else { return nil }
                members[key] = pruned
            }
            return .object(members)
        case (.array(var items), .index(let index)):
            guard items.indices.contains(index) else { return nil }
            if rest.isEmpty {
                if case .object = items[index] { return nil }
                items[index] = .object([:])
            } else {
                guard let pruned = items[index].removing(at: rest) else { return nil }
                items[index] = pruned
            }
            return .array(items)
        default:
            return nil
        }
    }
}
