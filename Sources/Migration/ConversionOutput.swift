import Foundation
import KubernetesModel
import Yams

extension Conversion {
    /// The policy as a YAML document, headed by comments that say where it came from and what did not carry over.
    public func yaml(from file: String? = nil) throws -> String {
        var lines = ["# Converted from \(source)\(file.map { " (\($0))" } ?? "")."]
        for kind in [Note.Kind.dropped, .changed, .needs] {
            let found = notes(kind)
            guard !found.isEmpty else { continue }
            lines.append("# \(kind.rawValue):")
            lines += found.map { "#   \($0.path): \($0.reason)" }
        }
        let encoder = YAMLEncoder()
        encoder.options.sortKeys = false
        let body = try encoder.encode(policy).split(separator: "\n", omittingEmptySubsequences: false).map {
            Self.plainNumber(String($0))
        }
        return lines.joined(separator: "\n") + "\n" + body.joined(separator: "\n")
    }

    /// Yams writes every Double in exponent form (`2.5e+1`); a reader expects `25` and `0.8`.
    static func plainNumber(_ line: String) -> String {
        guard let match = exponent.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)),
            let prefix = Range(match.range(at: 1), in: line), let number = Range(match.range(at: 2), in: line),
            let value = Double(line[number])
        else { return line }
        return String(line[prefix]) + plainText(value)
    }

    // A plain scalar that is a whole value after `key: ` or `- `: Yams quotes any string that would read as a number.
    private static let exponent = try! NSRegularExpression(
        pattern: "^(\\s*(?:- )?(?:[A-Za-z]+: )?)(-?[0-9]+(?:\\.[0-9]+)?e[+-][0-9]+)$")
}
