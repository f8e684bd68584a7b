import Foundation

/// Building PromQL safely.
public enum PromQL {
    /// A double-quoted PromQL string literal: a crafted value cannot end the string and change the query.
    public static func string(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += String(format: "\\x%02x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// An RE2 pattern that matches `value` literally.
    public static func regexLiteral(_ value: String) -> String {
        let special: Set<Character> = ["\\", ".", "+", "*", "?", "(", ")", "|", "[", "]", "{", "}", "^", "$"]
        return value.map { special.contains($0) ? "\\\($0)" : String($0) }.joined()
    }
}

/// Which pods a query may see: always one namespace, and the target's pods in it.
public struct PodScope: Sendable, Equatable {
    public enum Pods: Sendable, Equatable {
        /// The target's pods by name, as the controller lists them.
        case names([String])
        /// Pods named after a Deployment outside a cluster: `NAME-<pod-template-hash>-<suffix>`.
        case deployment(String)
        /// Pods named after a StatefulSet: `NAME-<ordinal>`.
        case statefulSet(String)
        /// Pods whose names start with `NAME-` (other workload kinds, such as a LeaderWorkerSet).
        case prefix(String)

        /// The naming pattern a workload kind gives its pods.
        public static func named(after kind: String, _ name: String) -> Pods {
            switch kind {
            case "Deployment": .deployment(name)
            case "StatefulSet": .statefulSet(name)
            default: .prefix(name)
            }
        }
    }

    public var namespace: String
    public var pods: Pods

    public init(namespace: String, pods: Pods) {
        self.namespace = namespace
        self.pods = pods
    }

    /// `namespace="NAME"`, escaped.
    public static func namespaceMatcher(_ namespace: String) -> String {
        "namespace=\(PromQL.string(namespace))"
    }

    /// The regex (inside the string literal) that the pod label must match fully.
    var podPattern: String {
        switch pods {
        case .names(let names):
            // No pods: a pattern no pod name can match (names are lowercase), so the query is empty, not global.
            names.isEmpty ? "$^" : names.sorted().map(PromQL.regexLiteral).joined(separator: "|")
        case .deployment(let name):
            PromQL.regexLiteral(name) + "-[a-z0-9]{1,10}-[a-z0-9]{5}"
        case .statefulSet(let name):
            PromQL.regexLiteral(name) + "-[0-9]+"
        case .prefix(let name):
            PromQL.regexLiteral(name) + "-.+"
        }
    }

    /// `namespace="…",pod=~"…"`, or with DCGM's `exported_` prefix.
    func matchers(prefix: String = "") -> String {
        "\(prefix)namespace=\(PromQL.string(namespace)),\(prefix)pod=~\(PromQL.string(podPattern))"
    }
}
