import Foundation

/// Where the API server is and how to authenticate: the result of loading configuration.
///
/// Built by `ClusterConfigurationLoader` from a kubeconfig or from the pod's service account; immutable once built.
/// Tokens that change (service-account tokens, exec plugins) live behind `credentials`, not in this value.
public struct ClusterConfiguration: Sendable {
    /// The API server's base URL, e.g. `https://10.0.0.1:443`, without a trailing slash. It may carry a path prefix
    /// (servers behind a proxy such as `https://rancher.example/k8s/clusters/c-1`).
    public var server: URL
    /// How to verify the server and which client certificate to present.
    public var tls: TLSSettings
    /// How to obtain a bearer token, if any.
    public var credentials: Credentials
    /// The context's namespace, the in-cluster namespace (`POD_NAMESPACE` or the service account's namespace file),
    /// or `default`.
    public var namespace: String
    /// A human description of where this came from: `in-cluster`, or `kubeconfig /path (context NAME)`.
    public var source: String
    /// Settings the loader accepted but that weaken security or are ignored (`insecure-skip-tls-verify`,
    /// `proxy-url`, a plain-HTTP server, a context ignored in cluster). The loader does not log: the caller logs these
    /// at warning level, once, at startup.
    public var warnings: [String]

    public init(
        server: URL, tls: TLSSettings, credentials: Credentials, namespace: String, source: String,
        warnings: [String] = []
    ) {
        self.server = server
        self.tls = tls
        self.credentials = credentials
        self.namespace = namespace
        self.source = source
        self.warnings = warnings
    }
}

/// How requests authenticate beyond TLS. Client certificates live in `TLSSettings`.
public enum Credentials: Sendable {
    /// No bearer token (client certificates only, or anonymous).
    case none
    /// A bearer token from a source that can reload it.
    case token(any BearerTokenSource)
}

/// Supplies a bearer token; `refresh` is true after a 401, so the source must reload (re-read the file, re-run the
/// plugin) rather than return what it cached.
public protocol BearerTokenSource: Sendable {
    func token(refresh: Bool) async throws -> String
}

/// A token written into the kubeconfig (`users[].user.token`). It cannot be reloaded: `refresh` returns it again.
public final class StaticToken: BearerTokenSource, CustomStringConvertible {
    private let value: String

    public init(_ token: String) {
        self.value = token
    }

    public func token(refresh: Bool) async throws -> String { value }

    /// Never shows the token.
    public var description: String { "StaticToken(<redacted>)" }
}
