import Foundation

/// A label selector: read from its string form (`app=vllm,tier in (gpu,cpu),!canary`, as `/scale` reports it) or
/// from its object form (`matchLabels`, `matchExpressions`, as a workload's spec holds it), written back as either.
public struct LabelSelector: Sendable, Equatable {
    enum Requirement: Sendable, Equatable {
        case equals(String, String)
        case notEquals(String, String)
        case `in`(String, Set<String>)
        case notIn(String, Set<String>)
        case exists(String)
        case doesNotExist(String)

        var key: String {
            switch self {
            case .equals(let key, _), .notEquals(let key, _), .in(let key, _), .notIn(let key, _), .exists(let key),
                .doesNotExist(let key):
                key
            }
        }

        /// The string form, values sorted.
        var text: String {
            switch self {
            case .equals(let key, let value): "\(key)=\(value)"
            case .notEquals(let key, let value): "\(key)!=\(value)"
            case .in(let key, let values): "\(key) in (\(values.sorted().joined(separator: ",")))"
            case .notIn(let key, let values): "\(key) notin (\(values.sorted().joined(separator: ",")))"
            case .exists(let key): key
            case .doesNotExist(let key): "!\(key)"
            }
        }
    }

    let requirements: [Requirement]
    public let text: String

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    public init(parsing text: String) throws(ParseError) {
        self.text = text
        var requirements: [Requirement] = []
        for term in Self.split(text) {
            let term = term.trimmingCharacters(in: .whitespaces)
            if term.isEmpty { continue }
            if term.hasPrefix("!") {
                requirements.append(.doesNotExist(String(term.dropFirst()).trimmingCharacters(in: .whitespaces)))
            } else if let range = term.range(of: " notin ") ?? term.range(of: " in ") {
                let key = String(term[..<range.lowerBound]).trimmingCharacters(in: .whitespaces)
                let rest = term[range.upperBound...].trimmingCharacters(in: .whitespaces)
                guard rest.hasPrefix("("), rest.hasSuffix(")") else {
                    throw ParseError(description: "invalid selector term \"\(term)\"")
                }
                let values = Set(
                    rest.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                requirements.append(term[range].contains("notin") ? .notIn(key, values) : .in(key, values))
            } else if let range = term.range(of: "!=") {
                requirements.append(
                    .notEquals(Self.trim(term[..<range.lowerBound]), Self.trim(term[range.upperBound...])))
            } else if let range = term.range(of: "==") ?? term.range(of: "=") {
                requirements.append(.equals(Self.trim(term[..<range.lowerBound]), Self.trim(term[range.upperBound...])))
            } else {
                requirements.append(.exists(term))
            }
        }
        self.requirements = requirements
    }

    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { requirement in
            switch requirement {
            case .equals(let key, let value): labels[key] == value
            case .notEquals(let key, let value): labels[key] != value
            case .in(let key, let values): labels[key].map(values.contains) ?? false
            case .notIn(let key, let values): !(labels[key].map(values.contains) ?? false)
            case .exists(let key): labels[key] != nil
            case .doesNotExist(let key): labels[key] == nil
            }
        }
    }

    /// From `metav1.LabelSelector` (`{"matchLabels": …, "matchExpressions": […]}`); its text is the string form the
    /// API server gives in `/scale` (requirements sorted by key). An operator it does not know is left out.
    public init(object: JSONValue?) {
        var requirements: [Requirement] = []
        for (key, value) in object?["matchLabels"]?.objectMembers ?? [:] {
            if let text = value.stringValue { requirements.append(.equals(key, text)) }
        }
        for expression in object?["matchExpressions"]?.arrayValue ?? [] {
            guard let key = expression["key"]?.stringValue, let op = expression["operator"]?.stringValue else {
                continue
            }
            let values = Set((expression["values"]?.arrayValue ?? []).compactMap(\.stringValue))
            switch op {
            case "In": requirements.append(.in(key, values))
            case "NotIn": requirements.append(.notIn(key, values))
            case "Exists": requirements.append(.exists(key))
            case "DoesNotExist": requirements.append(.doesNotExist(key))
            default: continue
            }
        }
        requirements.sort { $0.key < $1.key }
        self.requirements = requirements
        text = requirements.map(\.text).joined(separator: ",")
    }

    /// The object form, for a manifest (a PodDisruptionBudget's `spec.selector`).
    public var object: JSONValue {
        var labels: [String: JSONValue] = [:]
        var expressions: [JSONValue] = []
        func expression(_ key: String, _ op: String, _ values: Set<String>?) -> JSONValue {
            var object: [String: JSONValue] = ["key": .string(key), "operator": .string(op)]
            if let values { object["values"] = .array(values.sorted().map(JSONValue.string)) }
            return .object(object)
        }
        for requirement in requirements {
            switch requirement {
            case .equals(let key, let value): labels[key] = .string(value)
            case .notEquals(let key, let value): expressions.append(expression(key, "NotIn", [value]))
            case .in(let key, let values): expressions.append(expression(key, "In", values))
            case .notIn(let key, let values): expressions.append(expression(key, "NotIn", values))
            case .exists(let key): expressions.append(expression(key, "Exists", nil))
            case .doesNotExist(let key): expressions.append(expression(key, "DoesNotExist", nil))
            }
        }
        var object: [String: JSONValue] = [:]
        if !labels.isEmpty { object["matchLabels"] = .object(labels) }
        if !expressions.isEmpty { object["matchExpressions"] = .array(expressions) }
        return .object(object)
    }

    /// An empty selector selects nothing for a workload (a Deployment always has one); callers treat it so.
    public var isEmpty: Bool { requirements.isEmpty }

    private static func trim(_ text: Substring) -> String { text.trimmingCharacters(in: .whitespaces) }

    /// Splits on commas outside parentheses.
    private static func split(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            if character == ",", depth == 0 {
                parts.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        parts.append(current)
        return parts
    }
}
