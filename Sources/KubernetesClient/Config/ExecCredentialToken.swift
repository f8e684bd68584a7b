import Foundation
import KubernetesModel

/// A kubeconfig `users[].user.exec` stanza: a credential plugin (`aws eks get-token`, `gke-gcloud-auth-plugin`,
/// `kubelogin`, …) that prints an `ExecCredential` on stdout.
public struct ExecPluginConfiguration: Sendable, Equatable {
    /// One `env` entry, set for the plugin over the controller's own environment.
    public struct EnvironmentVariable: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// `client.authentication.k8s.io/v1` or `client.authentication.k8s.io/v1beta1`; the plugin must answer in the
    /// same version.
    public var apiVersion: String
    /// The command: an absolute path, or a bare name looked up in `PATH`. The loader has already resolved a relative
    /// path containing a slash against the kubeconfig's directory.
    public var command: String
    public var arguments: [String]
    public var environment: [EnvironmentVariable]
    /// Shown when the command is not found (`installHint`).
    public var installHint: String?
    /// Whether `KUBERNETES_EXEC_INFO` carries the cluster (`provideClusterInfo`).
    public var provideClusterInfo: Bool

    public init(
        apiVersion: String, command: String, arguments: [String] = [], environment: [EnvironmentVariable] = [],
        installHint: String? = nil, provideClusterInfo: Bool = false
    ) {
        self.apiVersion = apiVersion
        self.command = command
        self.arguments = arguments
        self.environment = environment
        self.installHint = installHint
        self.provideClusterInfo = provideClusterInfo
    }
}

/// The cluster as an exec plugin sees it in `KUBERNETES_EXEC_INFO` (`spec.cluster`) when `provideClusterInfo` is set:
/// the kubeconfig cluster's fields with the CA always as data.
public struct ExecClusterInfo: Sendable, Equatable, Encodable {
    public var server: String
    public var tlsServerName: String?
    public var insecureSkipTLSVerify: Bool
    public var certificateAuthorityData: Data?
    public var proxyURL: String?
    /// The cluster's `extensions` entry named `client.authentication.k8s.io/exec`, passed through as `config`.
    public var config: JSONValue?

    public init(
        server: String, tlsServerName: String? = nil, insecureSkipTLSVerify: Bool = false,
        certificateAuthorityData: Data? = nil, proxyURL: String? = nil, config: JSONValue? = nil
    ) {
        self.server = server
        self.tlsServerName = tlsServerName
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.certificateAuthorityData = certificateAuthorityData
        self.proxyURL = proxyURL
        self.config = config
    }

    private enum CodingKeys: String, CodingKey {
        case server
        case tlsServerName = "tls-server-name"
        case insecureSkipTLSVerify = "insecure-skip-tls-verify"
        case certificateAuthorityData = "certificate-authority-data"
        case proxyURL = "proxy-url"
        case config
    }

    /// Empty fields are left out, as the Go types' `omitempty` does; data is base64 like Go's `[]byte`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(server, forKey: .server)
        try container.encodeIfPresent(tlsServerName, forKey: .tlsServerName)
        if insecureSkipTLSVerify { try container.encode(true, forKey: .insecureSkipTLSVerify) }
        try container.encodeIfPresent(certificateAuthorityData, forKey: .certificateAuthorityData)
        try container.encodeIfPresent(proxyURL, forKey: .proxyURL)
        try container.encodeIfPresent(config, forKey: .config)
    }
}

/// A bearer token from an exec credential plugin (`client.authentication.k8s.io/v1` and `v1beta1`).
///
/// The plugin runs with the controller's environment plus its `env` entries and `KUBERNETES_EXEC_INFO` (the
/// `ExecCredential` request: `spec.interactive` is always false, `spec.cluster` is set when `provideClusterInfo` is),
/// with stdin from `/dev/null`. Its stdout must be an `ExecCredential` of the configured API version with
/// `status.token`; the token is kept until `status.expirationTimestamp` less `expiryMargin`, or for the life of the
/// process when there is none, and the plugin runs again on `refresh` (after a 401). Callers that ask while the
/// plugin runs share its result.
///
/// The plugin is killed after `timeout`, or when the calling task is cancelled. It never blocks a thread of the
/// cooperative pool: its exit is awaited through a continuation and its output is drained on threads of its own.
/// Client certificates returned by a plugin (`clientCertificateData`, `clientKeyData`) are not supported yet and give
/// an error.
public final class ExecCredentialToken: BearerTokenSource, CustomStringConvertible {
    /// The API versions of `ExecCredential` this client speaks.
    public static let supportedAPIVersions = [
        "client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1",
    ]

    public let plugin: ExecPluginConfiguration
    /// What `KUBERNETES_EXEC_INFO` tells the plugin about the cluster; nil unless `provideClusterInfo`.
    public let cluster: ExecClusterInfo?
    public let timeout: Duration
    public let expiryMargin: Duration
    private let baseEnvironment: [String: String]
    private let now: @Sendable () -> Date
    private let cache = ExecCredentialCache()

    /// - Parameters:
    ///   - environment: The controller's environment, which the plugin inherits and whose `PATH` finds a bare
    ///     command.
    ///   - now: The clock that expiration timestamps are compared with; tests pass a manual one.
    public init(
        plugin: ExecPluginConfiguration, cluster: ExecClusterInfo? = nil, environment: [String: String],
        timeout: Duration = .seconds(30), expiryMargin: Duration = .seconds(10),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.plugin = plugin
        self.cluster = plugin.provideClusterInfo ? cluster : nil
        self.baseEnvironment = environment
        self.timeout = timeout
        self.expiryMargin = expiryMargin
        self.now = now
    }

    public func token(refresh: Bool) async throws -> String {
        let margin = expiryMargin.seconds
        while true {
            do {
                return try await cache.token(refresh: refresh, now: now, margin: margin) { try await self.runPlugin() }
            } catch is CancellationError where !Task.isCancelled {
                // The caller whose run we joined was cancelled, not us: run again.
                continue
            }
        }
    }

    public var description: String { "ExecCredentialToken(\(plugin.command))" }

    /// The `ExecCredential` request passed in `KUBERNETES_EXEC_INFO`.
    public var execInfo: String {
        let request = ExecCredentialRequest(
            apiVersion: plugin.apiVersion, spec: .init(interactive: false, cluster: cluster))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding strings, booleans, data and JSONValue cannot fail.
        let data = (try? encoder.encode(request)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs the plugin once and checks its answer.
    private func runPlugin() async throws -> IssuedToken {
        // 1. Find the executable now rather than at load time, so that a plugin installed later is found.
        guard let executable = Self.resolveExecutable(plugin.command, searchPath: baseEnvironment["PATH"]) else {
            var message =
                plugin.command.contains("/")
                ? "exec plugin \(plugin.command) is not an executable file"
                : "exec plugin \(plugin.command) not found in PATH (\(baseEnvironment["PATH"] ?? ""))"
            if let hint = plugin.installHint, !hint.isEmpty { message += "; \(hint)" }
            throw ConfigurationError(.execPluginNotFound, message)
        }
        // 2. The environment: ours, then the kubeconfig's entries in order, then the request.
        var environment = baseEnvironment
        for variable in plugin.environment { environment[variable.name] = variable.value }
        environment["KUBERNETES_EXEC_INFO"] = execInfo
        // 3. Run with the timeout; a non-zero exit reports the plugin's stderr.
        let output: PluginOutput
        do {
            output = try await PluginProcess.run(
                executable: executable, arguments: plugin.arguments, environment: environment, timeout: timeout)
        } catch let error as PluginProcess.Failure {
            switch error {
            case .launch(let reason):
                throw ConfigurationError(.execPluginFailed, "cannot start exec plugin \(plugin.command): \(reason)")
            case .timedOut:
                throw ConfigurationError(
                    .execPluginTimedOut,
                    "exec plugin \(plugin.command) did not finish within \(timeout) and was killed")
            }
        }
        guard output.status == 0, !output.signaled else {
            let how = output.signaled ? "was killed by signal \(output.status)" : "exited with status \(output.status)"
            var message = "exec plugin \(plugin.command) \(how)"
            let stderr = String(decoding: output.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if !stderr.isEmpty { message += ": \(stderr.prefix(4096))" }
            throw ConfigurationError(.execPluginFailed, message)
        }
        // 4. Check the answer.
        return try Self.parse(output.stdout, command: plugin.command, apiVersion: plugin.apiVersion)
    }

    /// Checks a plugin's stdout: an `ExecCredential` of `apiVersion` with a token and an optional expiry.
    static func parse(_ stdout: Data, command: String, apiVersion: String) throws(ConfigurationError) -> IssuedToken {
        let response: ExecCredentialResponse
        do {
            response = try JSONDecoder().decode(ExecCredentialResponse.self, from: stdout)
        } catch {
            let text = String(decoding: stdout.prefix(200), as: UTF8.self)
            throw ConfigurationError(
                .execPluginInvalidOutput,
                "exec plugin \(command) did not print an ExecCredential as JSON (\(Self.describe(error))): \(text)")
        }
        guard response.kind == "ExecCredential" else {
            throw ConfigurationError(
                .execPluginInvalidOutput,
                "exec plugin \(command) printed kind \(response.kind ?? "<none>"), expected ExecCredential")
        }
        guard response.apiVersion == apiVersion else {
            throw ConfigurationError(
                .execPluginInvalidOutput,
                "exec plugin \(command) is configured to use API version \(apiVersion), "
                    + "but it returned version \(response.apiVersion ?? "<none>")")
        }
        guard let status = response.status else {
            throw ConfigurationError(.execPluginInvalidOutput, "exec plugin \(command) returned no status")
        }
        if status.clientCertificateData?.isEmpty == false || status.clientKeyData?.isEmpty == false {
            throw ConfigurationError(
                .unsupported,
                "exec plugin \(command) returned a client certificate (status.clientCertificateData/clientKeyData): "
                    + "client certificates from exec plugins are not supported yet; use a plugin that returns a token")
        }
        guard let token = status.token, !token.isEmpty else {
            throw ConfigurationError(.execPluginInvalidOutput, "exec plugin \(command) returned no status.token")
        }
        var expiry: Date?
        if let text = status.expirationTimestamp, !text.isEmpty {
            guard let date = Timestamp.parse(text) else {
                throw ConfigurationError(
                    .execPluginInvalidOutput,
                    "exec plugin \(command) returned status.expirationTimestamp \(text), which is not an RFC 3339 time")
            }
            expiry = date
        }
        return IssuedToken(token: token, expiry: expiry)
    }

    /// A path with a slash is taken as it is; a bare name is searched in `searchPath` like a shell would.
    static func resolveExecutable(_ command: String, searchPath: String?) -> String? {
        let files = FileManager.default
        func isExecutableFile(_ path: String) -> Bool {
            var isDirectory: ObjCBool = false
            return files.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
                && files.isExecutableFile(atPath: path)
        }
        if command.contains("/") {
            return isExecutableFile(command) ? command : nil
        }
        guard !command.isEmpty, let searchPath else { return nil }
        for directory in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + command
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .dataCorrupted(let context), .keyNotFound(_, let context), .typeMismatch(_, let context),
            .valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

/// A token and when it stops being valid.
struct IssuedToken: Sendable, Equatable {
    var token: String
    var expiry: Date?
}

/// The last token a plugin gave, and the callers waiting while it runs again.
actor ExecCredentialCache {
    private var current: IssuedToken?
    /// Non-nil while a run is in flight: the callers that joined it.
    private var waiters: [CheckedContinuation<String, any Error>]?

    func token(
        refresh: Bool, now: @Sendable () -> Date, margin: TimeInterval,
        fetch: @Sendable () async throws -> IssuedToken
    ) async throws -> String {
        // 1. A cached token that does not expire within the margin, unless asked to refresh.
        if !refresh, let current, current.expiry.map({ now() < $0.addingTimeInterval(-margin) }) ?? true {
            return current.token
        }
        // 2. A run in flight: its token is as fresh as a new run's would be.
        if waiters != nil {
            return try await withCheckedThrowingContinuation { waiters?.append($0) }
        }
        // 3. Run the plugin; whoever joined meanwhile gets the same result.
        waiters = []
        let result: Result<IssuedToken, any Error>
        do {
            result = .success(try await fetch())
        } catch {
            result = .failure(error)
        }
        let joined = waiters ?? []
        waiters = nil
        if case .success(let issued) = result { current = issued }
        for waiter in joined { waiter.resume(with: result.map(\.token)) }
        return try result.get().token
    }
}

private struct ExecCredentialRequest: Encodable {
    struct Spec: Encodable {
        var interactive: Bool
        var cluster: ExecClusterInfo?
    }

    var apiVersion: String
    var kind = "ExecCredential"
    var spec: Spec
}

private struct ExecCredentialResponse: Decodable {
    struct Status: Decodable {
        var token: String?
        var expirationTimestamp: String?
        var clientCertificateData: String?
        var clientKeyData: String?
    }

    var apiVersion: String?
    var kind: String?
    var status: Status?
}
