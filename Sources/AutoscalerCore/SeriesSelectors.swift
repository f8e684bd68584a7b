import Foundation

/// The series selectors of a PromQL expression (`metric{label="v", ...}`, `{...}`), found by a small lexer that knows
/// strings, comments, ranges and the keywords whose parentheses hold label names rather than expressions.
///
/// Used to check that a Custom query reads only its own namespace: every selector must carry `namespace="<ns>"`.
public enum SeriesSelectors {
    public struct Selector: Sendable, Equatable {
        /// The metric name before the braces, if any.
        public var metric: String?
        /// `label`, operator (`=`, `!=`, `=~`, `!~`), value (unquoted).
        public var matchers: [Matcher]
        /// The selector as written, for messages.
        public var text: String
        /// Where it stands in the query, in unicode scalars: from the metric name (or the brace) to the end of the
        /// name or the closing brace.
        public var offsets: Range<Int> = 0..<0
    }

    public struct Matcher: Sendable, Equatable {
        public var label: String
        public var op: String
        public var value: String
    }

    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// Keywords whose parenthesised list names labels: `sum by (pod)`, `on (namespace)`, `group_left (x)`.
    private static let labelListKeywords: Set<String> = [
        "by", "without", "on", "ignoring", "group_left", "group_right",
    ]
    /// Words that are never a metric name where they stand.
    private static let keywords: Set<String> = ["and", "or", "unless", "bool", "offset", "inf", "nan"]

    public static func parse(_ query: String) -> Result<[Selector], ParseError> {
        let characters = Array(query.unicodeScalars)
        var index = 0
        var selectors: [Selector] = []
        var depth = 0

        func peek(_ offset: Int = 0) -> Unicode.Scalar? {
            index + offset < characters.count ? characters[index + offset] : nil
        }
        func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
            c == "_" || c == ":" || (c.isASCII && CharacterSet.letters.contains(c))
        }
        func isIdentifierPart(_ c: Unicode.Scalar) -> Bool {
            isIdentifierStart(c) || ("0"..."9").contains(c)
        }
        func skipSpace() {
            while let c = peek() {
                if c == "#" {
                    while let d = peek(), d != "\n" { index += 1 }
                } else if c == " " || c == "\t" || c == "\n" || c == "\r" {
                    index += 1
                } else {
                    return
                }
            }
        }
        func string() throws(ParseError) -> String {
            let quote = characters[index]
            index += 1
            var value = String.UnicodeScalarView()
            while let c = peek() {
                index += 1
                if c == quote { return String(value) }
                if c == "\\", quote != "`", let escaped = peek() {
                    index += 1
                    switch escaped {
                    case "n": value.append("\n")
                    case "t": value.append("\t")
                    default: value.append(escaped)
                    }
                } else {
                    value.append(c)
                }
            }
            throw ParseError(description: "a string is not closed")
        }
        func identifier() -> String {
            let start = index
            while let c = peek(), isIdentifierPart(c) { index += 1 }
            return String(String.UnicodeScalarView(characters[start..<index]))
        }
        func lookAheadWord() -> String {
            let start = index
            defer { index = start }
            return identifier().lowercased()
        }
        func matchers() throws(ParseError) -> [Matcher] {
            index += 1  // {
            var result: [Matcher] = []
            while true {
                skipSpace()
                guard let c = peek() else { throw ParseError(description: "a { is not closed") }
                if c == "}" {
                    index += 1
                    return result
                }
                if c == "," {
                    index += 1
                    continue
                }
                let label: String
                if c == "\"" || c == "'" || c == "`" {
                    label = try string()
                } else if isIdentifierStart(c) {
                    label = identifier()
                } else {
                    throw ParseError(description: "unexpected \"\(c)\" in a label matcher")
                }
                skipSpace()
                var op = ""
                while let o = peek(), "=!~".unicodeScalars.contains(o) {
                    op.unicodeScalars.append(o)
                    index += 1
                }
                guard ["=", "!=", "=~", "!~"].contains(op) else {
                    // A bare name in braces is a metric name (`{"metric"}` in newer PromQL).
                    result.append(Matcher(label: "__name__", op: "=", value: label))
                    continue
                }
                skipSpace()
                guard let q = peek(), q == "\"" || q == "'" || q == "`" else {
                    throw ParseError(description: "the matcher on \(label) needs a quoted value")
                }
                result.append(Matcher(label: label, op: op, value: try string()))
            }
        }
        func skipGroup(open: Unicode.Scalar, close: Unicode.Scalar) throws(ParseError) {
            var depth = 0
            while let c = peek() {
                if c == "\"" || c == "'" || c == "`" {
                    _ = try string()
                    continue
                }
                index += 1
                if c == open { depth += 1 }
                if c == close {
                    depth -= 1
                    if depth == 0 { return }
                }
            }
            throw ParseError(description: "a \(open) is not closed")
        }

        do throws(ParseError) {
            while true {
                skipSpace()
                guard let c = peek() else { break }
                let start = index
                if c == "\"" || c == "'" || c == "`" {
                    _ = try string()
                } else if ("0"..."9").contains(c) || (c == "." && peek(1).map { ("0"..."9").contains($0) } == true) {
                    // Numbers and durations: 1.5, 1e-3, 0x1f, 5m30s.
                    while let d = peek(),
                        isIdentifierPart(d) || d == "."
                            || ((d == "-" || d == "+")
                                && (characters[index - 1] == "e" || characters[index - 1] == "E"))
                    {
                        index += 1
                    }
                } else if c == "[" {
                    try skipGroup(open: "[", close: "]")
                } else if c == "{" {
                    let found = try matchers()
                    selectors.append(
                        Selector(
                            metric: nil, matchers: found,
                            text: String(String.UnicodeScalarView(characters[start..<index])), offsets: start..<index))
                } else if isIdentifierStart(c) {
                    let word = identifier()
                    let nameEnd = index
                    let lower = word.lowercased()
                    skipSpace()
                    let next = peek().map(isIdentifierStart) == true ? lookAheadWord() : ""
                    if labelListKeywords.contains(lower) {
                        if peek() == "(" { try skipGroup(open: "(", close: ")") }
                    } else if keywords.contains(lower) || peek() == "(" || next == "by" || next == "without" {
                        // `sum by (pod) (...)`: an aggregation whose grouping comes first.
                        // An operator, or a function or aggregation: its arguments are read as the loop goes on.
                    } else {
                        var found: [Matcher] = []
                        var end = nameEnd
                        if peek() == "{" {
                            found = try matchers()
                            end = index
                        }
                        selectors.append(
                            Selector(
                                metric: word, matchers: found,
                                text: String(String.UnicodeScalarView(characters[start..<index]))
                                    .replacingOccurrences(of: "\n", with: " "), offsets: start..<end))
                    }
                } else {
                    if c == "(" { depth += 1 }
                    if c == ")" { depth -= 1 }
                    if depth < 0 { throw ParseError(description: "a ) has no (") }
                    index += 1
                }
            }
            if depth != 0 { throw ParseError(description: "a ( is not closed") }
        } catch {
            return .failure(error)
        }
        return .success(selectors)
    }

    /// `query` with `namespace="<ns>"` added to every selector that has no namespace matcher (a selector that names
    /// another namespace is left as it is, for `namespaceProblem` to report).
    public static func scoped(_ query: String, to namespace: String) -> Result<String, ParseError> {
        parse(query).map { selectors in
            var scalars = Array(query.unicodeScalars)
            let matcher = Array("namespace=\"\(namespace)\"".unicodeScalars)
            for selector in selectors.reversed() where !selector.matchers.contains(where: { $0.label == "namespace" }) {
                let range = selector.offsets
                if let brace = scalars[range].firstIndex(of: "{") {
                    let empty = selector.matchers.isEmpty
                    scalars.insert(contentsOf: matcher + (empty ? [] : Array(", ".unicodeScalars)), at: brace + 1)
                } else {
                    scalars.insert(contentsOf: ["{"] + matcher + ["}"], at: range.upperBound)
                }
            }
            return String(String.UnicodeScalarView(scalars))
        }
    }

    /// Why `query` may read series outside `namespace`, or nil when every selector carries `namespace="<ns>"`.
    public static func namespaceProblem(in query: String, namespace: String) -> String? {
        switch parse(query) {
        case .failure(let error):
            return "cannot read its series selectors (\(error)), so it cannot be checked to stay in \(namespace)"
        case .success(let selectors):
            if selectors.isEmpty { return nil }
            for selector in selectors
            where !selector.matchers.contains(where: {
                $0.label == "namespace" && $0.op == "=" && $0.value == namespace
            }) {
                return "its selector \(selector.text) has no namespace=\"\(namespace)\" matcher, so it could read "
                    + "another namespace's series; add the matcher to every selector"
            }
            return nil
        }
    }
}
