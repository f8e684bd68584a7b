import AutoscalerCore
import Foundation
import Signals

/// Recognizes the PromQL that KEDA and HPA users write by hand for an engine's metric (`sum(vllm:num_requests_waiting)`,
/// `histogram_quantile(0.95, sum(rate(..._bucket[1m])) by (le))`), so that it can become the engine's preset signal,
/// which follows renames and reads the target's own pods. Anything else stays the user's query.
public enum QueryRecognizer {
    public enum Aggregation: String, Sendable, Equatable {
        case sum, avg, max, min
        /// A bare selector: one series per pod, which KEDA rejects once there are two.
        case none
    }

    public struct Recognized: Sendable, Equatable {
        public var engine: Engine
        public var type: SignalType
        public var aggregation: Aggregation
        /// The metric as the query names it.
        public var metric: String
        /// The engine's current name, when the query uses an older one or an adapter's rewrite of it.
        public var currentName: String?
        /// Label matchers other than `namespace` and `pod`, which the preset replaces with the target's pods.
        public var otherMatchers: [String]
        /// The `rate()` window, for throughput and latency.
        public var window: String?
        public var quantile: Double?
        /// The query ended in `or vector(0)`.
        public var defaultsToZero: Bool
    }

    /// What a metric name is for each engine: the signal type it feeds and the name the preset reads today.
    struct Entry {
        var engine: Engine
        var type: SignalType
        var current: String
    }

    static let entries: [String: Entry] = {
        var table: [String: Entry] = [:]
        // Engines in a fixed order, so that a name two engines share (none today) resolves the same way each time.
        for engine in [Engine.vllm, .sglang, .tgi, .nim, .trtllm] {
            let names = EnginePresets.names(for: engine)
            func add(_ name: String, _ type: SignalType, current: String) {
                if table[name] == nil { table[name] = Entry(engine: engine, type: type, current: current) }
                // prometheus-adapter rewrites `vllm:x` as `vllm_x`.
                let adapted = name.replacingOccurrences(of: ":", with: "_")
                if table[adapted] == nil { table[adapted] = Entry(engine: engine, type: type, current: current) }
            }
            // The gateway's metrics are the endpoint picker's, not an engine's: their queries stay Custom.
            for type in SignalType.allCases where !type.isGateway {
                guard let role = EnginePresets.role(of: type), let candidates = names.candidates[role] else { continue }
                // A histogram is recognized by its buckets.
                let suffix = role.isHistogram ? "_bucket" : ""
                for name in candidates { add(name + suffix, type, current: candidates[0] + suffix) }
            }
        }
        return table
    }()

    /// The engine signal a metric name (as a query, an adapter or Google's managed Prometheus spells it) stands for.
    public static func metric(_ name: String) -> (engine: Engine, type: SignalType, current: String?)? {
        let name = seriesName(name)
        guard let entry = entries[name] else { return nil }
        return (entry.engine, entry.type, entry.current == name ? nil : entry.current)
    }

    /// The Prometheus series behind a metric name as Google Cloud Managed Service for Prometheus spells it for the
    /// HPA (`prometheus.googleapis.com|vllm:num_requests_waiting|gauge`); other names as they are.
    public static func seriesName(_ name: String) -> String {
        let parts = name.split(separator: "|")
        return parts.count == 3 && parts[0] == "prometheus.googleapis.com" ? String(parts[1]) : name
    }

    private static let name = "([A-Za-z_:][A-Za-z0-9_:]*)"
    private static let braces = "(\\{[^}]*\\})?"
    private static let window = "\\[([0-9]+(?:ms|[smhdwy]))\\]"
    private static let gauge = regex("^(sum|avg|max|min)\\s*\\(\\s*\(name)\\s*\(braces)\\s*\\)$")
    private static let bare = regex("^\(name)\\s*\(braces)$")
    private static let rate = regex(
        "^sum\\s*\\(\\s*(?:rate|irate)\\s*\\(\\s*\(name)\\s*\(braces)\\s*\(window)\\s*\\)\\s*\\)$")
    private static let quantileSumBy = regex(
        "^histogram_quantile\\s*\\(\\s*([0-9.]+)\\s*,\\s*sum\\s*\\(\\s*rate\\s*\\(\\s*\(name)\\s*\(braces)\\s*\(window)"
            + "\\s*\\)\\s*\\)\\s*by\\s*\\(\\s*le\\s*\\)\\s*\\)$")
    private static let quantileBySum = regex(
        "^histogram_quantile\\s*\\(\\s*([0-9.]+)\\s*,\\s*sum\\s+by\\s*\\(\\s*le\\s*\\)\\s*\\(\\s*rate\\s*\\(\\s*\(name)"
            + "\\s*\(braces)\\s*\(window)\\s*\\)\\s*\\)\\s*\\)$")
    private static let orZero = regex("\\s+or\\s+vector\\s*\\(\\s*0(?:\\.0*)?\\s*\\)$")

    private static func regex(_ pattern: String) -> NSRegularExpression {
        // The patterns are constants of this file: a bad one is a programming error caught by any test.
        try! NSRegularExpression(pattern: pattern)
    }

    public static func recognize(_ query: String) -> Recognized? {
        var text = query.trimmingCharacters(in: .whitespacesAndNewlines)
        var defaultsToZero = false
        if let match = first(orZero, in: text) {
            text = String(text[..<Range(match.range, in: text)!.lowerBound])
            defaultsToZero = true
        }
        text = withoutOuterParentheses(text.trimmingCharacters(in: .whitespacesAndNewlines))

        if let groups = groups(gauge, in: text) ?? groups(bare, in: text).map({ [nil] + $0 }) {
            guard let found = metric(groups[1] ?? ""), found.type.isGauge else { return nil }
            return Recognized(
                engine: found.engine, type: found.type, aggregation: Aggregation(rawValue: groups[0] ?? "") ?? .none,
                metric: groups[1]!, currentName: found.current, otherMatchers: otherMatchers(groups[2]),
                window: nil, quantile: nil, defaultsToZero: defaultsToZero)
        }
        if let groups = groups(rate, in: text) {
            guard let found = metric(groups[0] ?? ""), found.type == .tokenThroughput else { return nil }
            return Recognized(
                engine: found.engine, type: .tokenThroughput, aggregation: .sum, metric: groups[0]!,
                currentName: found.current, otherMatchers: otherMatchers(groups[1]), window: groups[2], quantile: nil,
                defaultsToZero: defaultsToZero)
        }
        if let groups = groups(quantileSumBy, in: text) ?? groups(quantileBySum, in: text) {
            guard let found = metric(groups[1] ?? ""), found.type == .timeToFirstToken,
                let quantile = Double(groups[0] ?? ""), quantile > 0, quantile < 1
            else { return nil }
            return Recognized(
                engine: found.engine, type: .timeToFirstToken, aggregation: .sum, metric: groups[1]!,
                currentName: found.current, otherMatchers: otherMatchers(groups[2]), window: groups[3],
                quantile: quantile, defaultsToZero: defaultsToZero)
        }
        return nil
    }

    /// Matchers as written, without the ones the preset sets itself.
    private static func otherMatchers(_ braces: String?) -> [String] {
        guard let braces, case .success(let selectors) = SeriesSelectors.parse("m" + braces),
            let selector = selectors.first
        else { return [] }
        return selector.matchers.filter { $0.label != "namespace" && $0.label != "pod" }.map {
            "\($0.label)\($0.op)\"\($0.value)\""
        }
    }

    private static func first(_ regex: NSRegularExpression, in text: String) -> NSTextCheckingResult? {
        regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text))
    }

    /// The capture groups of a whole-text match (nil for a group that did not take part).
    private static func groups(_ regex: NSRegularExpression, in text: String) -> [String?]? {
        guard let match = first(regex, in: text) else { return nil }
        return (1..<match.numberOfRanges).map { index in
            Range(match.range(at: index), in: text).map { String(text[$0]) }
        }
    }

    /// `(sum(x))` is `sum(x)`; `(a) + (b)` keeps its parentheses.
    static func withoutOuterParentheses(_ text: String) -> String {
        var text = text
        while text.hasPrefix("("), text.hasSuffix(")") {
            var depth = 0
            var closesAtEnd = true
            for (offset, character) in text.enumerated() {
                if character == "(" { depth += 1 }
                if character == ")" { depth -= 1 }
                if depth == 0, offset < text.count - 1 {
                    closesAtEnd = false
                    break
                }
            }
            guard closesAtEnd else { break }
            text = String(text.dropFirst().dropLast()).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return text
    }
}

extension SignalType {
    /// A gauge an engine exports per pod, summed or averaged over the fleet.
    var isGauge: Bool { self == .queueDepth || self == .runningRequests || self == .kvCacheUtilization }
}
