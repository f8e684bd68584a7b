import Foundation

public enum Quantity {
    /// A Kubernetes quantity as a number: `5`, `"500m"`, `"1k"`, `"2Mi"`, `"1e3"`.
    public static func value(_ json: JSONValue?) -> Double? {
        guard let json else { return nil }
        if case .number(let value) = json { return value }
        guard var text = json.stringValue?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        let suffixes: [(String, Double)] = [
            ("Ki", 1024), ("Mi", 1_048_576), ("Gi", 1_073_741_824), ("Ti", 1_099_511_627_776), ("m", 0.001),
            ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12),
        ]
        var scale = 1.0
        for (suffix, factor) in suffixes where text.hasSuffix(suffix) {
            text.removeLast(suffix.count)
            scale = factor
            break
        }
        return Double(text).map { $0 * scale }
    }
}
