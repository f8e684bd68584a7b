import Foundation

/// A label selector in its string form (`app=vllm,tier in (gpu,cpu),!canary`), as `/scale` reports it.
public struct LabelSelector: Sendable, Equatable {
    enum Requirement: Sendable, Equatable {
        case equals(String, String)
        case notEquals(String, String)
        case `in`(String, Set<String>)
        case notIn(String, Set<String>)
        case exists(String)
        case doesNotExist(String)
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
