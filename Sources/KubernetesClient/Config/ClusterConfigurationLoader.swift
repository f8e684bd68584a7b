import Foundation

/// Finds the API server and credentials, in cluster and out, the way controller-runtime and kubectl do.
///
/// Nothing here reads the process environment or logs: the `@main` command passes its environment in, and logs the
/// returned `ClusterConfiguration.warnings`.
public enum ClusterConfigurationLoader {
    /// The order controller-runtime uses:
    /// 1. an explicit kubeconfig path (`--kubeconfig`), which must exist;
    /// 2. else `$KUBECONFIG`, a colon-separated list of files merged with kubectl's rules (missing files skipped);
    /// 3. else in-cluster configuration when `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT` are set;
    /// 4. else `~/.kube/config`.
    ///
    /// In cluster, a broken service account (no token, no `ca.crt`) is an error: this does not fall back to
    /// `~/.kube/config`, and never turns TLS verification off. `context` applies to kubeconfig files only.
    public static func load(
        kubeconfig: String?, context: String?, environment: [String: String], homeDirectory: String,
        serviceAccountDirectory: String = "/var/run/secrets/kubernetes.io/serviceaccount"
    ) throws(ConfigurationError) -> ClusterConfiguration {
        let context = context.flatMap { $0.isEmpty ? nil : $0 }
        // 1. Explicit path.
        if let explicit = kubeconfig, !explicit.isEmpty {
            let path = absolutePath(explicit)
            guard FileManager.default.fileExists(atPath: path) else {
                throw ConfigurationError(.fileNotFound, "kubeconfig \(path) does not exist", file: path)
            }
            return try loadKubeconfig(paths: [path], context: context, environment: environment)
        }
        // 2. $KUBECONFIG.
        if let list = environment["KUBECONFIG"], !list.isEmpty {
            let paths = kubeconfigList(list)
            guard paths.contains(where: { FileManager.default.fileExists(atPath: $0) }) else {
                throw ConfigurationError(
                    .noConfiguration, "none of the files in KUBECONFIG exists: \(paths.joined(separator: ", "))",
                    file: paths.first)
            }
            return try loadKubeconfig(paths: paths, context: context, environment: environment)
        }
        // 3. In cluster.
        if let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        {
            var configuration = try inCluster(
                environment: environment, serviceAccountDirectory: serviceAccountDirectory)
            if let context {
                configuration.warnings.append("context \(context) ignored: running in cluster with its service account")
            }
            return configuration
        }
        // 4. ~/.kube/config.
        let home = URL(fileURLWithPath: homeDirectory, isDirectory: true)
            .appendingPathComponent(".kube/config").path
        guard FileManager.default.fileExists(atPath: home) else {
            throw ConfigurationError(
                .noConfiguration,
                "no Kubernetes configuration: no --kubeconfig, KUBECONFIG is unset, KUBERNETES_SERVICE_HOST and "
                    + "KUBERNETES_SERVICE_PORT are unset (not in a cluster), and \(home) does not exist",
                file: home)
        }
        return try loadKubeconfig(paths: [home], context: context, environment: environment)
    }

    /// The pod's service account: `https://HOST:PORT` from `KUBERNETES_SERVICE_HOST`/`_PORT` (an IPv6 host in
    /// brackets), the token file as a `FileToken` (it rotates), `ca.crt` (required: without it the server cannot be
    /// verified, and this fails rather than connect unverified), and the namespace from `POD_NAMESPACE`, else the
    /// `namespace` file, else `default`.
    public static func inCluster(
        environment: [String: String], serviceAccountDirectory: String
    ) throws(ConfigurationError) -> ClusterConfiguration {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw ConfigurationError(
                .notInCluster,
                "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set")
        }
        let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        guard let server = URL(string: "https://\(bracketed):\(port)"), server.host != nil, Int(port) != nil else {
            throw ConfigurationError(
                .invalidValue,
                "in-cluster API server https://\(bracketed):\(port) from KUBERNETES_SERVICE_HOST and "
                    + "KUBERNETES_SERVICE_PORT is not a valid URL")
        }
        let directory = URL(fileURLWithPath: serviceAccountDirectory, isDirectory: true)
        // The token: read once now so that a pod without a mounted token fails at startup, not at the first request.
        let tokenPath = directory.appendingPathComponent("token").path
        let token = FileToken(path: tokenPath)
        do {
            _ = try token.currentToken(refresh: true)
        } catch {
            throw ConfigurationError(
                error.code, "in-cluster service-account token: \(error.message)", file: tokenPath)
        }
        // The CA: required.
        let caPath = directory.appendingPathComponent("ca.crt").path
        let ca: Data
        do {
            ca = try Data(contentsOf: URL(fileURLWithPath: caPath))
        } catch {
            let missing = !FileManager.default.fileExists(atPath: caPath)
            throw ConfigurationError(
                missing ? .fileNotFound : .unreadableFile,
                "in-cluster CA certificate \(caPath) \(missing ? "does not exist" : "cannot be read"): refusing to "
                    + "connect to the API server without verifying it",
                file: caPath)
        }
        guard !ca.isEmpty else {
            throw ConfigurationError(
                .invalidValue,
                "in-cluster CA certificate \(caPath) is empty: refusing to connect to the API server without "
                    + "verifying it",
                file: caPath)
        }
        // The namespace.
        var namespace = "default"
        if let fromEnvironment = environment["POD_NAMESPACE"], !fromEnvironment.isEmpty {
            namespace = fromEnvironment
        } else if let data = FileManager.default.contents(atPath: directory.appendingPathComponent("namespace").path) {
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty { namespace = text }
        }
        return ClusterConfiguration(
            server: server, tls: TLSSettings(caCertificatePEM: ca), credentials: .token(token), namespace: namespace,
            source: "in-cluster")
    }

    /// Loads and merges kubeconfig files with kubectl's rules, then resolves a context.
    ///
    /// Files that do not exist are skipped (as for a `$KUBECONFIG` list); empty entries are skipped; it is an error
    /// when none exists. For each cluster, user and context name the first file that defines it wins;
    /// `current-context` comes from the first file that sets it; relative paths in a file are resolved against that
    /// file's directory. `context` selects a context by name, else `current-context` is used.
    ///
    /// - Parameter environment: What an exec credential plugin inherits, and whose `PATH` finds it.
    public static func kubeconfig(
        paths: [String], context: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> ClusterConfiguration {
        let paths = deduplicated(paths.filter { !$0.isEmpty }.map(absolutePath))
        guard paths.contains(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw ConfigurationError(
                .noConfiguration,
                paths.count == 1
                    ? "kubeconfig \(paths[0]) does not exist"
                    : "none of the kubeconfig files exists: \(paths.joined(separator: ", "))",
                file: paths.first)
        }
        return try loadKubeconfig(
            paths: paths, context: context.flatMap { $0.isEmpty ? nil : $0 }, environment: environment)
    }

    // MARK: - Kubeconfig

    private static func loadKubeconfig(
        paths: [String], context requested: String?, environment: [String: String]
    ) throws(ConfigurationError) -> ClusterConfiguration {
        // 1. Read and merge every file that exists.
        var merged = MergedKubeconfig()
        for path in paths where FileManager.default.fileExists(atPath: path) {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError(.unreadableFile, "kubeconfig \(path) cannot be read", file: path)
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw ConfigurationError(.invalidKubeconfig, "kubeconfig \(path) is not UTF-8 text", file: path)
            }
            merged.merge(try KubeconfigFile.parse(text, file: path), from: path)
        }
        let files = merged.files.joined(separator: ", ")
        // 2. Pick the context.
        let contextName: String
        if let requested {
            contextName = requested
        } else if let current = merged.currentContext {
            contextName = current.value
        } else {
            throw ConfigurationError(
                .noCurrentContext,
                "no current context is set in kubeconfig \(files); set current-context or pass a context"
                    + available(merged.contexts.keys),
                file: merged.files.first)
        }
        guard let context = merged.contexts[contextName] else {
            throw ConfigurationError(
                .contextNotFound,
                "context \"\(contextName)\" is not defined in kubeconfig \(files)" + available(merged.contexts.keys),
                file: merged.currentContext?.file ?? merged.files.first)
        }
        let contextSubject = "context \"\(contextName)\" in \(context.file)"
        // 3. Its cluster.
        guard let clusterName = context.value.cluster, !clusterName.isEmpty else {
            throw ConfigurationError(.clusterNotFound, "\(contextSubject) names no cluster", file: context.file)
        }
        guard let cluster = merged.clusters[clusterName] else {
            throw ConfigurationError(
                .clusterNotFound,
                "cluster \"\(clusterName)\" of \(contextSubject) is not defined in kubeconfig \(files)",
                file: context.file)
        }
        var warnings: [String] = []
        let (server, tls, clusterInfo) = try clusterSettings(
            cluster, name: clusterName, warnings: &warnings)
        // 4. Its user, if any: a context without a user connects with TLS settings only.
        var credentials = Credentials.none
        var tlsWithClient = tls
        if let userName = context.value.user, !userName.isEmpty {
            guard let user = merged.users[userName] else {
                throw ConfigurationError(
                    .userNotFound, "user \"\(userName)\" of \(contextSubject) is not defined in kubeconfig \(files)",
                    file: context.file)
            }
            credentials = try userSettings(
                user, name: userName, tls: &tlsWithClient, cluster: clusterInfo, environment: environment,
                warnings: &warnings)
        }
        let namespace = context.value.namespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        return ClusterConfiguration(
            server: server, tls: tlsWithClient, credentials: credentials, namespace: namespace,
            source: "kubeconfig \(context.file) (context \(contextName))", warnings: warnings)
    }

    private static func clusterSettings(
        _ entry: Sourced<KubeconfigFile.Cluster>, name: String, warnings: inout [String]
    ) throws(ConfigurationError) -> (URL, TLSSettings, ExecClusterInfo) {
        let cluster = entry.value
        let subject = "cluster \"\(name)\" in kubeconfig \(entry.file)"
        // The server: an http(s) URL with a host; a trailing slash is dropped, a path prefix kept.
        guard let serverText = cluster.server, !serverText.isEmpty else {
            throw ConfigurationError(.invalidValue, "\(subject) has no server", file: entry.file)
        }
        var trimmed = serverText
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let server = URL(string: trimmed), let scheme = server.scheme?.lowercased(),
            scheme == "https" || scheme == "http", let host = server.host, !host.isEmpty
        else {
            throw ConfigurationError(
                .invalidValue, "\(subject): server \(serverText) is not an http or https URL", file: entry.file)
        }
        if scheme == "http" {
            warnings.append("\(subject): server \(trimmed) is plain HTTP; credentials are sent unencrypted")
        }
        var tls = TLSSettings(serverName: cluster.tlsServerName.flatMap { $0.isEmpty ? nil : $0 })
        // The CA: data wins over a file, as in kubectl; a file must be readable now.
        if let data = cluster.certificateAuthorityData, !data.isEmpty {
            tls.caCertificatePEM = try base64Data(
                data, field: "certificate-authority-data", subject: subject, file: entry.file)
        } else if let file = cluster.certificateAuthority, !file.isEmpty {
            try requireReadable(file, field: "certificate-authority", subject: subject, kubeconfig: entry.file)
            tls.caCertificateFile = file
        }
        if cluster.insecureSkipTLSVerify == true {
            if tls.caCertificatePEM != nil || tls.caCertificateFile != nil {
                throw ConfigurationError(
                    .conflictingSettings,
                    "\(subject): specifying a root certificates file with the insecure flag is not allowed "
                        + "(certificate-authority with insecure-skip-tls-verify: true)",
                    file: entry.file)
            }
            tls.insecureSkipVerify = true
            warnings.append(
                "\(subject) sets insecure-skip-tls-verify: the API server's certificate is not verified")
        }
        if let proxy = cluster.proxyURL, !proxy.isEmpty {
            warnings.append("\(subject): proxy-url \(proxy) is not supported and is ignored; connecting directly")
        }
        // What an exec plugin is told about the cluster: the CA always as data.
        var caData = tls.caCertificatePEM
        if caData == nil, let file = tls.caCertificateFile {
            caData = FileManager.default.contents(atPath: file)
        }
        let execConfig = cluster.extensions?.first { $0.name == "client.authentication.k8s.io/exec" }?.extension
        let info = ExecClusterInfo(
            server: trimmed, tlsServerName: tls.serverName, insecureSkipTLSVerify: tls.insecureSkipVerify,
            certificateAuthorityData: caData, proxyURL: cluster.proxyURL.flatMap { $0.isEmpty ? nil : $0 },
            config: execConfig)
        return (server, tls, info)
    }

    private static func userSettings(
        _ entry: Sourced<KubeconfigFile.User>, name: String, tls: inout TLSSettings, cluster: ExecClusterInfo,
        environment: [String: String], warnings: inout [String]
    ) throws(ConfigurationError) -> Credentials {
        let user = entry.value
        let subject = "user \"\(name)\" in kubeconfig \(entry.file)"
        // 1. What this client does not do, refused rather than silently connecting as someone else.
        if let provider = user.authProvider {
            throw ConfigurationError(
                .unsupported,
                "\(subject) uses the legacy auth-provider \(provider.name ?? "<unnamed>"), which is not supported: "
                    + "use an exec credential plugin instead (for example gke-gcloud-auth-plugin or kubelogin)",
                file: entry.file)
        }
        if user.username?.isEmpty == false || user.password?.isEmpty == false {
            throw ConfigurationError(
                .unsupported,
                "\(subject) uses basic authentication (username/password), which is not supported: use a token, "
                    + "a client certificate or an exec credential plugin",
                file: entry.file)
        }
        if user.impersonate?.isEmpty == false || user.impersonateUID?.isEmpty == false
            || user.impersonateGroups?.isEmpty == false || user.impersonateUserExtra?.isEmpty == false
        {
            throw ConfigurationError(
                .unsupported, "\(subject) asks for impersonation (as, as-uid, as-groups), which is not supported",
                file: entry.file)
        }
        // 2. The client certificate: data or a file for each of certificate and key, and both or neither.
        tls.clientCertificatePEM = try clientCredential(
            data: user.clientCertificateData, dataField: "client-certificate-data", file: user.clientCertificate,
            fileField: "client-certificate", subject: subject, kubeconfig: entry.file, into: &tls.clientCertificateFile)
        tls.clientKeyPEM = try clientCredential(
            data: user.clientKeyData, dataField: "client-key-data", file: user.clientKey, fileField: "client-key",
            subject: subject, kubeconfig: entry.file, into: &tls.clientKeyFile)
        let hasCertificate = tls.clientCertificatePEM != nil || tls.clientCertificateFile != nil
        let hasKey = tls.clientKeyPEM != nil || tls.clientKeyFile != nil
        if hasCertificate != hasKey {
            throw ConfigurationError(
                .conflictingSettings,
                hasCertificate
                    ? "\(subject) has a client certificate but no client-key or client-key-data"
                    : "\(subject) has a client key but no client-certificate or client-certificate-data",
                file: entry.file)
        }
        // 3. The bearer token: token, else tokenFile, else exec (kubectl's precedence).
        let token = user.token.flatMap { $0.isEmpty ? nil : $0 }
        let tokenFile = user.tokenFile.flatMap { $0.isEmpty ? nil : $0 }
        if user.exec != nil, token != nil || tokenFile != nil {
            warnings.append("\(subject) sets both a token and an exec plugin; the token is used")
        }
        if let token {
            return .token(StaticToken(token))
        }
        if let tokenFile {
            let source = FileToken(path: tokenFile)
            do {
                _ = try source.currentToken(refresh: true)
            } catch {
                throw ConfigurationError(error.code, "\(subject): tokenFile: \(error.message)", file: tokenFile)
            }
            return .token(source)
        }
        if let exec = user.exec {
            return .token(
                try execToken(
                    exec, subject: subject, kubeconfig: entry.file, cluster: cluster, environment: environment))
        }
        return .none
    }

    private static func execToken(
        _ exec: KubeconfigFile.Exec, subject: String, kubeconfig: String, cluster: ExecClusterInfo,
        environment: [String: String]
    ) throws(ConfigurationError) -> ExecCredentialToken {
        guard let command = exec.command, !command.isEmpty else {
            throw ConfigurationError(.invalidValue, "\(subject): exec has no command", file: kubeconfig)
        }
        guard let apiVersion = exec.apiVersion, !apiVersion.isEmpty else {
            throw ConfigurationError(
                .invalidValue, "\(subject): exec plugin \(command) has no apiVersion", file: kubeconfig)
        }
        guard ExecCredentialToken.supportedAPIVersions.contains(apiVersion) else {
            throw ConfigurationError(
                .unsupported,
                "\(subject): exec plugin \(command) uses apiVersion \(apiVersion); supported: "
                    + ExecCredentialToken.supportedAPIVersions.joined(separator: ", "),
                file: kubeconfig)
        }
        switch exec.interactiveMode ?? "" {
        case "", "Never", "IfAvailable":
            break
        case "Always":
            throw ConfigurationError(
                .unsupported,
                "\(subject): exec plugin \(command) requires interactive mode (interactiveMode: Always), but a "
                    + "controller has no terminal",
                file: kubeconfig)
        case let mode:
            throw ConfigurationError(
                .invalidValue,
                "\(subject): exec plugin \(command) has interactiveMode \(mode); expected Never, IfAvailable or Always",
                file: kubeconfig)
        }
        var variables: [ExecPluginConfiguration.EnvironmentVariable] = []
        for (index, variable) in (exec.env ?? []).enumerated() {
            guard let name = variable.name, !name.isEmpty else {
                throw ConfigurationError(
                    .invalidValue, "\(subject): exec plugin \(command) env[\(index)] has no name", file: kubeconfig)
            }
            variables.append(.init(name: name, value: variable.value ?? ""))
        }
        let plugin = ExecPluginConfiguration(
            apiVersion: apiVersion, command: command, arguments: exec.args ?? [], environment: variables,
            installHint: exec.installHint, provideClusterInfo: exec.provideClusterInfo ?? false)
        return ExecCredentialToken(plugin: plugin, cluster: cluster, environment: environment)
    }

    // MARK: - Helpers

    /// Data (decoded) or a file (checked readable, stored in `file`); both at once is kubectl's error.
    private static func clientCredential(
        data: String?, dataField: String, file: String?, fileField: String, subject: String, kubeconfig: String,
        into fileSetting: inout String?
    ) throws(ConfigurationError) -> Data? {
        let data = data.flatMap { $0.isEmpty ? nil : $0 }
        let file = file.flatMap { $0.isEmpty ? nil : $0 }
        if data != nil, file != nil {
            throw ConfigurationError(
                .conflictingSettings, "\(subject) sets both \(dataField) and \(fileField); use one", file: kubeconfig)
        }
        if let data {
            return try base64Data(data, field: dataField, subject: subject, file: kubeconfig)
        }
        if let file {
            try requireReadable(file, field: fileField, subject: subject, kubeconfig: kubeconfig)
            fileSetting = file
        }
        return nil
    }

    /// Standard base64, tolerating the whitespace and line breaks that hand-edited files have.
    private static func base64Data(
        _ text: String, field: String, subject: String, file: String
    ) throws(ConfigurationError)
        -> Data
    {
        let compact = String(text.unicodeScalars.filter { !CharacterSet.whitespacesAndNewlines.contains($0) })
        guard let data = Data(base64Encoded: compact), !data.isEmpty else {
            throw ConfigurationError(.invalidValue, "\(subject): \(field) is not valid base64", file: file)
        }
        return data
    }

    private static func requireReadable(
        _ path: String, field: String, subject: String, kubeconfig: String
    ) throws(ConfigurationError) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigurationError(
                .fileNotFound, "\(subject): \(field) \(path) does not exist", file: path)
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ConfigurationError(
                .unreadableFile, "\(subject): \(field) \(path) cannot be read", file: path)
        }
    }

    private static func available(_ names: Dictionary<String, Sourced<KubeconfigFile.Context>>.Keys) -> String {
        names.isEmpty ? " (it defines no contexts)" : " (available: \(names.sorted().joined(separator: ", ")))"
    }

    /// `$KUBECONFIG` split on colons, empty entries dropped, duplicates dropped keeping the first.
    static func kubeconfigList(_ value: String) -> [String] {
        deduplicated(value.split(separator: ":").map(String.init).filter { !$0.isEmpty }.map(absolutePath))
    }

    private static func deduplicated(_ paths: [String]) -> [String] {
        var seen: Set<String> = []
        return paths.filter { seen.insert($0).inserted }
    }

    /// Relative to the working directory, as a shell would take it.
    private static func absolutePath(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}
