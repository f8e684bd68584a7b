import Foundation
import KubernetesClient
import Testing

@Suite("Kubeconfig loading")
struct KubeconfigLoadingTests {
    static let devCA = Data("-----BEGIN CERTIFICATE-----\nZGV2LWNh\n-----END CERTIFICATE-----\n".utf8)

    @Test func currentContext() async throws {
        let fixtures = try ConfigFixtures()
        let config = try ClusterConfigurationLoader.kubeconfig(paths: [fixtures.path("basic.yaml")], context: nil)
        #expect(config.server.absoluteString == "https://dev.example.com:6443")
        #expect(config.namespace == "inference")
        #expect(config.source == "kubeconfig \(fixtures.path("basic.yaml")) (context dev)")
        #expect(config.tls == TLSSettings(caCertificatePEM: Self.devCA, serverName: "kubernetes.default"))
        #expect(try await config.credentials.currentToken() == "dev-token-123")
        #expect(try await config.credentials.currentToken(refresh: true) == "dev-token-123")
        #expect(config.warnings.isEmpty)
    }

    @Test func namedContextResolvesPathsAgainstTheFile() async throws {
        let fixtures = try ConfigFixtures()
        let config = try ClusterConfigurationLoader.kubeconfig(paths: [fixtures.path("basic.yaml")], context: "prod")
        #expect(config.server.absoluteString == "https://[fd00::10]:443/k8s/clusters/c-1")
        #expect(config.namespace == "default")
        #expect(config.source.hasSuffix("(context prod)"))
        #expect(
            config.tls
                == TLSSettings(
                    caCertificateFile: fixtures.path("certs/prod-ca.crt"),
                    clientCertificateFile: fixtures.path("certs/prod-client.crt"),
                    clientKeyFile: fixtures.path("certs/prod-client.key")))
        #expect(try await config.credentials.currentToken() == "prod-token-456")
    }

    @Test func contextWithoutUserHasNoCredentials() async throws {
        let fixtures = try ConfigFixtures()
        let config = try ClusterConfigurationLoader.kubeconfig(
            paths: [fixtures.path("basic.yaml")], context: "anonymous")
        #expect(try await config.credentials.currentToken() == nil)
    }

    @Test func unknownContextListsTheAvailableOnes() throws {
        let fixtures = try ConfigFixtures()
        let error = try #require(throws: ConfigurationError.self) {
            try ClusterConfigurationLoader.kubeconfig(paths: [fixtures.path("basic.yaml")], context: "staging")
        }
        #expect(error.code == .contextNotFound)
        #expect(error.message.contains("\"staging\""))
        #expect(error.message.contains(fixtures.path("basic.yaml")))
        #expect(error.message.contains("available: anonymous, dev, prod"))
    }

    @Test func noCurrentContext() throws {
        let fixtures = try ConfigFixtures()
        let error = try #require(throws: ConfigurationError.self) {
            try ClusterConfigurationLoader.kubeconfig(paths: [fixtures.path("merge/no-current.yaml")], context: nil)
        }
        #expect(error.code == .noCurrentContext)
        #expect(error.message.contains("no current context"))
        #expect(error.message.contains(fixtures.path("merge/no-current.yaml")))
    }

    // MARK: Merging

    @Test func firstFileWinsAndSetsTheCurrentContext() async throws {
        let fixtures = try ConfigFixtures()
        let paths = [fixtures.path("merge/a/config"), fixtures.path("merge/b/config")]
        let config = try ClusterConfigurationLoader.kubeconfig(paths: paths, context: nil)
        // a-context, shared and shared-user all come from a, though b defines them too.
        #expect(config.source == "kubeconfig \(paths[0]) (context a-context)")
        #expect(config.server.absoluteString == "https://a.example.com")
        #expect(config.namespace == "from-a")
        #expect(config.tls.caCertificateFile == fixtures.path("merge/a/ca.crt"))
        #expect(try await config.credentials.currentToken() == "token-from-a")
    }

    @Test func relativePathsResolveAgainstTheirOwnFile() async throws {
        let fixtures = try ConfigFixtures()
        let paths = [fixtures.path("merge/a/config"), fixtures.path("merge/b/config")]
        let config = try ClusterConfigurationLoader.kubeconfig(paths: paths, context: "b-context")
        #expect(config.server.absoluteString == "https://only-b.example.com")
        #expect(config.tls.caCertificateFile == fixtures.path("merge/b/ca.crt"))
        #expect(try await config.credentials.currentToken() == "prod-token-456")
    }

    @Test func currentContextFromTheFirstFileThatSetsIt() throws {
        let fixtures = try ConfigFixtures()
        let reversed = try ClusterConfigurationLoader.kubeconfig(
            paths: [fixtures.path("merge/b/config"), fixtures.path("merge/a/config")], context: nil)
        #expect(reversed.source.hasSuffix("(context b-context)"))
        let afterEmpty = try ClusterConfigurationLoader.kubeconfig(
            paths: [fixtures.path("merge/no-current.yaml"), fixtures.path("merge/a/config")], context: nil)
        #expect(afterEmpty.source == "kubeconfig \(fixtures.path("merge/a/config")) (context a-context)")
    }

    // MARK: Broken files

    @Test func brokenYAMLNamesTheFileAndLine() throws {
        let fixtures = try ConfigFixtures()
        let error = try #require(throws: ConfigurationError.self) {
            try ClusterConfigurationLoader.kubeconfig(paths: [fixtures.path("broken.yaml")], context: nil)
        }
        #expect(error.code == .invalidKubeconfig)
        #expect(error.file == fixtures.path("broken.yaml"))
        #expect(error.message.contains(fixtures.path("broken.yaml")))
        #expect(error.message.contains("line 6") || error.message.contains("line 7"), "\(error)")
    }

    @Test func wrongFieldTypeNamesTheFieldAndLine() throws {
        let fixtures = try ConfigFixtures()
        let error = try #require(throws: ConfigurationError.self) {
            try ClusterConfigurationLoader.kubeconfig(paths: [fixtures.path("wrong-type.yaml")], context: nil)
        }
        #expect(error.code == .invalidKubeconfig)
        #expect(error.message.contains(fixtures.path("wrong-type.yaml")))
        #expect(error.message.contains("clusters[0].cluster.insecure-skip-tls-verify"), "\(error)")
        #expect(error.message.contains("line 6"), "\(error)")
    }

    @Test func emptyFileIsAnEmptyConfiguration() throws {
        let fixtures = try ConfigFixtures()
        let empty = try fixtures.write("empty.yaml", "# nothing yet\n")
        let error = try #require(throws: ConfigurationError.self) {
            try ClusterConfigurationLoader.kubeconfig(paths: [empty], context: nil)
        }
        #expect(error.code == .noCurrentContext)
        #expect(error.message.contains("defines no contexts"))
    }

    /// One bad setting per case: the error's code, and words its message must contain besides the file's path.
    static let invalidConfigurations: [(String, String, ConfigurationError.Code, [String])] = [
        (
            "insecure with a CA",
            """
            clusters: [{name: c, cluster: {server: "https://x", insecure-skip-tls-verify: true,
              certificate-authority-data: "YWJj"}}]
            """,
            .conflictingSettings, ["cluster \"c\"", "root certificates file with the insecure flag is not allowed"]
        ),
        (
            "invalid base64",
            """
            clusters: [{name: c, cluster: {server: "https://x", certificate-authority-data: "not*base64"}}]
            """,
            .invalidValue, ["cluster \"c\"", "certificate-authority-data is not valid base64"]
        ),
        (
            "server without scheme",
            #"clusters: [{name: c, cluster: {server: "10.0.0.1:6443"}}]"#,
            .invalidValue, ["cluster \"c\"", "not an http or https URL"]
        ),
        (
            "ftp server",
            #"clusters: [{name: c, cluster: {server: "ftp://x"}}]"#,
            .invalidValue, ["not an http or https URL"]
        ),
        ("no server", "clusters: [{name: c, cluster: {}}]", .invalidValue, ["cluster \"c\"", "has no server"]),
        (
            "missing CA file",
            #"clusters: [{name: c, cluster: {server: "https://x", certificate-authority: missing-ca.crt}}]"#,
            .fileNotFound, ["cluster \"c\"", "certificate-authority", "missing-ca.crt"]
        ),
        (
            "basic auth",
            "users: [{name: u, user: {username: admin, password: secret}}]",
            .unsupported, ["user \"u\"", "basic authentication"]
        ),
        (
            "auth-provider",
            "users: [{name: u, user: {auth-provider: {name: gcp, config: {}}}}]",
            .unsupported, ["user \"u\"", "auth-provider gcp", "exec"]
        ),
        (
            "impersonation",
            "users: [{name: u, user: {token: t, as: someone-else}}]",
            .unsupported, ["user \"u\"", "impersonation"]
        ),
        (
            "certificate without key",
            "users: [{name: u, user: {client-certificate-data: YWJj}}]",
            .conflictingSettings, ["user \"u\"", "no client-key"]
        ),
        (
            "certificate as file and data",
            "users: [{name: u, user: {client-certificate-data: YWJj, client-certificate: certs/prod-client.crt}}]",
            .conflictingSettings, ["user \"u\"", "both client-certificate-data and client-certificate"]
        ),
        (
            "missing token file",
            "users: [{name: u, user: {tokenFile: tokens/none}}]",
            .fileNotFound, ["user \"u\"", "tokens/none"]
        ),
        (
            "exec without apiVersion",
            "users: [{name: u, user: {exec: {command: aws}}}]",
            .invalidValue, ["user \"u\"", "aws", "no apiVersion"]
        ),
        (
            "exec v1alpha1",
            "users: [{name: u, user: {exec: {command: aws, apiVersion: client.authentication.k8s.io/v1alpha1}}}]",
            .unsupported, ["user \"u\"", "v1alpha1"]
        ),
        (
            "interactive exec",
            """
            users: [{name: u, user: {exec: {command: kubelogin, apiVersion: client.authentication.k8s.io/v1,
              interactiveMode: Always}}}]
            """,
            .unsupported, ["user \"u\"", "kubelogin", "interactive"]
        ),
        (
            "unknown user",
            "users: []",
            .userNotFound, ["user \"u\"", "context \"ctx\""]
        ),
        (
            "duplicate names",
            "users: [{name: u, user: {token: a}}, {name: u, user: {token: b}}]",
            .invalidKubeconfig, ["two entries named \"u\""]
        ),
    ]

    @Test(arguments: invalidConfigurations)
    func invalidSettingsAreRefused(
        _ name: String, _ snippet: String, _ code: ConfigurationError.Code, _ words: [String]
    )
        throws
    {
        let fixtures = try ConfigFixtures()
        // A context `ctx` on cluster `c` and user `u`, each defined by the snippet or by a default.
        var text = snippet + "\n"
        if !snippet.hasPrefix("clusters") { text += #"clusters: [{name: c, cluster: {server: "https://x"}}]"# + "\n" }
        if !snippet.hasPrefix("users") { text += "users: [{name: u, user: {token: t}}]\n" }
        text += "contexts: [{name: ctx, context: {cluster: c, user: u}}]\ncurrent-context: ctx\n"
        let file = try fixtures.write("case.yaml", text)
        let error = try #require(throws: ConfigurationError.self, "\(name)") {
            try ClusterConfigurationLoader.kubeconfig(
                paths: [file], context: nil, environment: execPluginTestEnvironment)
        }
        #expect(error.code == code, "\(name): \(error)")
        #expect(error.message.contains(file), "\(name): \(error)")
        for word in words {
            #expect(error.message.contains(word), "\(name): \(error)")
        }
    }

    @Test func insecureSkipVerifyIsKeptWithAWarning() throws {
        let fixtures = try ConfigFixtures()
        let file = try fixtures.write(
            "insecure.yaml",
            """
            current-context: ctx
            clusters: [{name: c, cluster: {server: "https://x:6443", insecure-skip-tls-verify: true,
              proxy-url: "http://proxy:3128"}}]
            contexts: [{name: ctx, context: {cluster: c}}]
            """)
        let config = try ClusterConfigurationLoader.kubeconfig(paths: [file], context: nil)
        #expect(config.tls.insecureSkipVerify)
        #expect(config.tls.caCertificatePEM == nil && config.tls.caCertificateFile == nil)
        #expect(config.warnings.count == 2)
        #expect(config.warnings.contains { $0.contains("insecure-skip-tls-verify") && $0.contains("cluster \"c\"") })
        #expect(config.warnings.contains { $0.contains("proxy-url") })
    }
}
