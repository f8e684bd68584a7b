import Foundation
import KubernetesModel

/// A parsed `labelSelector` query parameter (`k8s.io/apimachinery/pkg/labels` syntax): requirements joined by
/// commas, each `key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`,
/// `key>n` or `key<n`. All requirements must hold.
struct LabelSelector: Sendable, Equatable {
    enum Operator: Sendable, Equatable {
        case equals, notEquals, inSet, notInSet, exists, doesNotExist, greaterThan, lessThan
    }

    struct Requirement: Sendable, Equatable {
        var key: String
        var op: Operator
        var values: [String]

        func matches(_ labels: [String: String]) -> Bool {
            let value = labels[key]
            switch op {
            case .equals, .inSet: return value.map(values.contains) ?? false
            case .notEquals, .notInSet: return value.map { !values.contains($0) } ?? true
            case .exists: return value != nil
            case .doesNotExist: return value == nil
            case .greaterThan, .lessThan:
                guard let value, let number = Int(value), let bound = values.first.flatMap({ Int($0) }) else {
                    return false
                }
                return op == .greaterThan ? number > bound : number < bound
            }
        }
    }

    var requirements: [Requirement] = []

    var isEmpty: Bool { requirements.isEmpty }

    func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { $0.matches(labels) }
    }

    init() {}

    /// Parses selector text; throws 400 BadRequest with the parser's complaint when malformed.
    init(parsing text: String) throws(APIStatusError) {
        var scanner = SelectorScanner(text)
        while true {
            scanner.skipSpaces()
            if scanner.atEnd { break }
            requirements.append(try scanner.requirement())
            scanner.skipSpaces()
            if scanner.atEnd { break }
            guard scanner.consume(",") else {
                throw .badRequest("unable to parse requirement: found '\(scanner.rest)', expected: ','")
            }
        }
    }

    /// The selector a `metav1.LabelSelector` object denotes, as `LabelSelectorAsSelector` builds it; nil when
    /// the object is malformed.
    init?(labelSelectorObject object: JSONValue) {
        guard let members = object.objectMembers else { return nil }
        for (key, value) in members["matchLabels"]?.objectMembers ?? [:] {
            guard let text = value.stringValue else { return nil }
            requirements.append(Requirement(key: key, op: .equals, values: [text]))
        }
        for expression in members["matchExpressions"]?.arrayValue ?? [] {
            guard let key = expression["key"]?.stringValue, let op = expression["operator"]?.stringValue else {
                return nil
            }
            let values = (expression["values"]?.arrayValue ?? []).compactMap(\.stringValue)
            switch op {
            case "In": requirements.append(Requirement(key: key, op: .inSet, values: values))
            case "NotIn": requirements.append(Requirement(key: key, op: .notInSet, values: values))
            case "Exists": requirements.append(Requirement(key: key, op: .exists, values: []))
            case "DoesNotExist": requirements.append(Requirement(key: key, op: .doesNotExist, values: []))
            default: return nil
            }
        }
    }

    /// The canonical text (`labels.Selector.String()`): requirements sorted by key, set values sorted.
    var text: String {
        requirements.sorted { $0.key < $1.key }.map { requirement in
            let values = requirement.values.sorted()
            switch requirement.op {
            case .equals: return "\(requirement.key)=\(values.first ?? "")"
            case .notEquals: return "\(requirement.key)!=\(values.first ?? "")"
            case .inSet: return "\(requirement.key) in (\(values.joined(separator: ",")))"
            case .notInSet: return "\(requirement.key) notin (\(values.joined(separator: ",")))"
            case .exists: return requirement.key
            case .doesNotExist: return "!\(requirement.key)"
            case .greaterThan: return "\(requirement.key)>\(values.first ?? "")"
            case .lessThan: return "\(requirement.key)<\(values.first ?? "")"
            }
        }.joined(separator: ",")
    }
}

/// A small hand-written scanner for label selector text.
private struct SelectorScanner {
    let characters: [Character]
    var index = 0

    init(_ text: String) { characters = Array(text) }

    var atEnd: Bool { index >= characters.count }
    var rest: String { String(characters[index...]) }

    mutating func skipSpaces() {
        while !atEnd, characters[index] == " " { index += 1 }
    }

    mutating func consume(_ literal: String) -> Bool {
        let literalCharacters = Array(literal)
        guard index + literalCharacters.count <= characters.count,
            Array(characters[index..<index + literalCharacters.count]) == literalCharacters
        else { return false }
        index += literalCharacters.count
        return true
    }

    static func isNameCharacter(_ character: Character) -> Bool {
        character.isLetter || character.isNumber || "-_./".contains(character)
    }

    mutating func identifier() -> String {
        let start = index
        while !atEnd, Self.isNameCharacter(characters[index]) { index += 1 }
        return String(characters[start..<index])
    }

    /// Consumes a keyword (`in`, `notin`) only when a word boundary follows.
    mutating func keyword(_ word: String) -> Bool {
        let saved = index
        guard consume(word) else { return false }
        if !atEnd, Self.isNameCharacter(characters[index]) {
            index = saved
            return false
        }
        return true
    }

    mutating func requirement() throws(APIStatusError) -> LabelSelector.Requirement {
        if consume("!") {
            skipSpaces()
            let key = identifier()
            guard !key.isEmpty else {
                throw .badRequest("unable to parse requirement: found '\(rest)', expected: identifier")
            }
            return .init(key: key, op: .doesNotExist, values: [])
        }
        let key = identifier()
        guard !key.isEmpty else {
            throw .badRequest("unable to parse requirement: found '\(rest)', expected: identifier")
        }
        try validateKey(key)
        skipSpaces()
        if atEnd || characters[index] == "," { return .init(key: key, op: .exists, values: []) }
        if consume("==") || consume("=") { return .init(key: key, op: .equals, values: [try value()]) }
        if consume("!=") { return .init(key: key, op: .notEquals, values: [try value()]) }
        if consume(">") { return .init(key: key, op: .greaterThan, values: [try integer()]) }
        if consume("<") { return .init(key: key, op: .lessThan, values: [try integer()]) }
        if keyword("notin") { return .init(key: key, op: .notInSet, values: try set()) }
        if keyword("in") { return .init(key: key, op: .inSet, values: try set()) }
        throw .badRequest(
            "unable to parse requirement: found '\(rest)', expected: in, notin, =, ==, !=, gt, lt"
        )
    }

    mutating func value() throws(APIStatusError) -> String {
        skipSpaces()
        let text = identifier()
        try validateValue(text)
        return text
    }

    mutating func integer() throws(APIStatusError) -> String {
        let text = try value()
        guard Int(text) != nil else {
            throw .badRequest("unable to parse requirement: for 'gt', 'lt' operators, the value must be an integer")
        }
        return text
    }

    mutating func set() throws(APIStatusError) -> [String] {
        skipSpaces()
        guard consume("(") else { throw .badRequest("unable to parse requirement: found '\(rest)', expected: '('") }
        var values: [String] = []
        while true {
            values.append(try value())
            skipSpaces()
            if consume(")") { break }
            guard consume(",") else {
                throw .badRequest("unable to parse requirement: found '\(rest)', expected: ',' or ')'")
            }
        }
        return values
    }

    func validateKey(_ key: String) throws(APIStatusError) {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let name = parts.last, !name.isEmpty, name.count <= 63,
            name.first!.isLetter || name.first!.isNumber, name.last!.isLetter || name.last!.isNumber
        else {
            throw .badRequest(
                "unable to parse requirement: invalid label key \"\(key)\": name part must consist of "
                    + "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
            )
        }
    }

    func validateValue(_ value: String) throws(APIStatusError) {
        guard value.count <= 63,
            value.isEmpty
                || ((value.first!.isLetter || value.first!.isNumber) && (value.last!.isLetter || value.last!.isNumber)),
            !value.contains("/")
        else {
            throw .badRequest(
                "unable to parse requirement: invalid label value: \"\(value)\": a valid label must be an empty "
                    + "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
                    + "an alphanumeric character"
            )
        }
    }
}

/// A parsed `fieldSelector`: `field=value`, `field==value` or `field!=value`, comma-separated, all must hold.
struct FieldSelector: Sendable, Equatable {
    struct Requirement: Sendable, Equatable {
        var field: String
        var value: String
        var negated: Bool
    }

    var requirements: [Requirement] = []

    var isEmpty: Bool { requirements.isEmpty }

    init() {}

    /// Parses selector text, allowing `metadata.name`, `metadata.namespace` and the type's selectable fields.
    init(parsing text: String, type: ResourceType) throws(APIStatusError) {
        for part in text.split(separator: ",") {
            let term = part.trimmingCharacters(in: .whitespaces)
            if term.isEmpty { continue }
            let requirement: Requirement
            if let range = term.range(of: "!=") {
                requirement = Requirement(
                    field: String(term[..<range.lowerBound]),
                    value: String(term[range.upperBound...]),
                    negated: true
                )
            } else if let range = term.range(of: "==") {
                requirement = Requirement(
                    field: String(term[..<range.lowerBound]),
                    value: String(term[range.upperBound...]),
                    negated: false
                )
            } else if let range = term.range(of: "=") {
                requirement = Requirement(
                    field: String(term[..<range.lowerBound]),
                    value: String(term[range.upperBound...]),
                    negated: false
                )
            } else {
                throw .badRequest("invalid selector: '\(text)'; can't understand '\(term)'")
            }
            let allowed = ["metadata.name", "metadata.namespace"] + type.selectableFields
            guard allowed.contains(requirement.field) else {
                if type.isCustomResource {
                    throw .badRequest(
                        "\"\(requirement.field)\" is not a known field selector: only \"metadata.name\", "
                            + "\"metadata.namespace\""
                    )
                }
                throw .badRequest("field label not supported: \(requirement.field)")
            }
            requirements.append(requirement)
        }
    }

    func matches(_ object: JSONValue) -> Bool {
        requirements.allSatisfy { requirement in
            let actual: String
            switch object.value(at: requirement.field) {
            case .string(let text): actual = text
            case .bool(let flag): actual = flag ? "true" : "false"
            case .number(let number): actual = number.rounded() == number ? String(Int(number)) : String(number)
            default: actual = ""
            }
            return (actual == requirement.value) != requirement.negated
        }
    }
}

/// The label and field selectors of a list or watch.
struct ObjectFilter: Sendable {
    var namespace: String?
    var labels = LabelSelector()
    var fields = FieldSelector()

    var hasSelectors: Bool { !labels.isEmpty || !fields.isEmpty }

    func matches(_ object: JSONValue) -> Bool {
        if let namespace, object.namespace != namespace { return false }
        return labels.matches(object.labels) && fields.matches(object)
    }
}
