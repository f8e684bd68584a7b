import Foundation

/// Durations in the notation Kubernetes uses for `metav1.Duration` (Go's `time.ParseDuration`): a sequence of
/// decimal numbers with units `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`, such as `500ms`, `15s`, `1h30m`, `1.5h`.
public enum PolicyDuration {
    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case empty
        case missingUnit(String)
        case unknownUnit(String)
        case malformed(String)

        public var description: String {
            switch self {
            case .empty: "empty duration"
            case .missingUnit(let text): "missing unit in duration \"\(text)\" (use e.g. 15s, 5m, 1h30m)"
            case .unknownUnit(let unit): "unknown unit \"\(unit)\" (use ns, us, ms, s, m or h)"
            case .malformed(let text): "invalid duration \"\(text)\""
            }
        }
    }

    private static let units: [String: Double] = [
        "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600,
    ]

    /// The number of seconds `text` denotes; negative durations parse (Go allows them) and are rejected by validation.
    public static func parse(_ text: String) throws(ParseError) -> Double {
        var rest = Substring(text)
        guard !rest.isEmpty else { throw .empty }
        var sign = 1.0
        if let first = rest.first, first == "-" || first == "+" {
            sign = first == "-" ? -1 : 1
            rest = rest.dropFirst()
        }
        if rest == "0" { return 0 }
        guard !rest.isEmpty else { throw .malformed(text) }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1,
                let value = Double(number.hasPrefix(".") ? "0" + number : String(number))
            else { throw .malformed(text) }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            guard !unit.isEmpty else { throw .missingUnit(text) }
            guard let scale = units[String(unit)] else { throw .unknownUnit(String(unit)) }
            rest = rest.dropFirst(unit.count)
            total += value * scale
        }
        return sign * total
    }

    /// A short canonical form: `0s`, `500ms`, `15s`, `5m`, `1h30m`, `1m30.5s`.
    public static func format(_ seconds: Double) -> String {
        if seconds == 0 { return "0s" }
        if seconds < 0 { return "-" + format(-seconds) }
        if seconds < 1 {
            let millis = seconds * 1000
            return millis == millis.rounded() ? "\(Int(millis))ms" : "\(trimmed(millis))ms"
        }
        var rest = seconds
        var text = ""
        let hours = Int(rest / 3600)
        if hours > 0 {
            text += "\(hours)h"
            rest -= Double(hours) * 3600
        }
        let minutes = Int(rest / 60)
        if minutes > 0 {
            text += "\(minutes)m"
            rest -= Double(minutes) * 60
        }
        if rest > 1e-9 { text += "\(trimmed(rest))s" }
        return text
    }

    private static func trimmed(_ value: Double) -> String {
        if value == value.rounded() { return String(Int(value)) }
        var text = String(format: "%.3f", value)
        while text.hasSuffix("0") { text.removeLast() }
        return text
    }
}
