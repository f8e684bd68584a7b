import Foundation

/// What the operator lets policy authors make the controller do beyond reading their own pods' presets from the
/// default Prometheus. Each set holds namespaces (or addresses), `*` for all; empty means nobody.
public struct TenantPermissions: Sendable, Equatable {
    /// Namespaces whose policies may use Custom queries (`--allow-custom-queries-in`).
    public var customQueryNamespaces: Set<String>
    /// Addresses a policy may name in `spec.prometheus.address` (`--allow-prometheus`); the default always.
    public var prometheusAddresses: Set<String>
    /// Namespaces whose policies may send `spec.prometheus.headers` (`--allow-prometheus-headers-in`).
    public var headerNamespaces: Set<String>
    /// Namespaces whose policies may turn off TLS verification (`--allow-insecure-prometheus-in`).
    public var insecureNamespaces: Set<String>
    /// `--default-prometheus`.
    public var defaultPrometheus: String?

    public init(
        customQueryNamespaces: Set<String> = ["*"], prometheusAddresses: Set<String> = ["*"],
        headerNamespaces: Set<String> = ["*"], insecureNamespaces: Set<String> = ["*"],
        defaultPrometheus: String? = nil
    ) {
        self.customQueryNamespaces = customQueryNamespaces
        self.prometheusAddresses = prometheusAddresses
        self.headerNamespaces = headerNamespaces
        self.insecureNamespaces = insecureNamespaces
        self.defaultPrometheus = defaultPrometheus
    }

    public enum Refusal: Sendable, Equatable {
        /// A Custom query outside an allowed namespace, or one that could read another namespace.
        case customQuery(String)
        /// A Prometheus address, header or TLS setting the operator did not allow.
        case prometheus(String)
    }

    /// The first thing `policy` asks for that it may not have, or nil.
    public func refusal(for policy: ResolvedPolicy) -> Refusal? {
        let namespace = policy.namespace
        let customs = policy.signals.filter { $0.type == .custom }
        if let custom = customs.first, !Self.contains(customQueryNamespaces, namespace) {
            return .customQuery(
                "signal \(custom.name) is a Custom query, which the controller allows only in namespaces given "
                    + "with --allow-custom-queries-in; \(namespace) is not one of them")
        }
        for custom in customs {
            if let problem = SeriesSelectors.namespaceProblem(in: custom.query ?? "", namespace: namespace) {
                return .customQuery("signal \(custom.name): \(problem)")
            }
        }
        let spec = policy.prometheus.spec
        if let address = policy.prometheus.address, !prometheusAddresses.contains("*") {
            let allowed = prometheusAddresses.map(Self.normalized) + [defaultPrometheus.map(Self.normalized)]
            if !allowed.contains(Self.normalized(address)) {
                return .prometheus(
                    "spec.prometheus.address \(address) is not an address the controller may read for policies: "
                        + "the operator allows addresses with --allow-prometheus (or leave it unset for the default)")
            }
        }
        if let headers = spec.headers, !headers.isEmpty, !Self.contains(headerNamespaces, namespace) {
            return .prometheus(
                "spec.prometheus.headers (\(headers.keys.sorted().joined(separator: ", "))) are allowed only in "
                    + "namespaces given with --allow-prometheus-headers-in; \(namespace) is not one of them")
        }
        if spec.tls?.insecureSkipVerify == true, !Self.contains(insecureNamespaces, namespace) {
            return .prometheus(
                "spec.prometheus.tls.insecureSkipVerify is allowed only in namespaces given with "
                    + "--allow-insecure-prometheus-in; \(namespace) is not one of them")
        }
        return nil
    }

    private static func contains(_ set: Set<String>, _ namespace: String) -> Bool {
        set.contains("*") || set.contains(namespace)
    }

    /// Scheme and host compared without case, a trailing slash ignored.
    static func normalized(_ address: String) -> String {
        guard var components = URLComponents(string: address) else { return address }
        components.scheme = components.scheme?.lowercased()
        components.host = components.host?.lowercased()
        var text = components.string ?? address
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }
}
