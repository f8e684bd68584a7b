import Foundation
import KubernetesClient
import Testing

@Suite("In-cluster configuration and load order")
struct InClusterConfigurationTests {
    static let clusterEnvironment = ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"]
    static let ca = "-----BEGIN CERTIFICATE-----\nY2x1c3Rlcg==\n-----END CERTIFICATE-----\n"

    /// A service-account directory like the one the kubelet mounts.
    private func serviceAccount(
        _ fixtures: ConfigFixtures, token: String? = "sa-token\n", ca: String? = Self.ca,
        namespace: String? = "autoscaling\n"
    ) throws -> String {
        let directory = fixtures.path("serviceaccount")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if let token { try fixtures.write("serviceaccount/token", token) }
        if let ca { try fixtures.write("serviceaccount/ca.crt", ca) }
        if let namespace { try fixtures.write("serviceaccount/namespace", namespace) }
        return directory
    }

    @Test func serviceAccount() async throws {
        let fixtures = try ConfigFixtures()
        let directory = try serviceAccount(fixtures)
        let config = try ClusterConfigurationLoader.inCluster(
            environment: Self.clusterEnvironment, serviceAccountDirectory: directory)
        #expect(config.server.absoluteString == "https://10.96.0.1:443")
        #expect(config.tls == TLSSettings(caCertificatePEM: Data(Self.ca.utf8)))
        #expect(config.namespace == "autoscaling")
        #expect(config.source == "in-cluster")
        #expect(try await config.credentials.currentToken() == "sa-token")
        // The token rotates: the source re-reads the file.
        try fixtures.write("serviceaccount/token", "rotated-sa-token\n")
        #expect(try await config.credentials.currentToken() == "rotated-sa-token")
    }

    @Test func ipv6HostIsBracketed() throws {
        let fixtures = try ConfigFixtures()
        let config = try ClusterConfigurationLoader.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "fd00:10:96::1", "KUBERNETES_SERVICE_PORT": "6443"],
            serviceAccountDirectory: try serviceAccount(fixtures))
        #expect(config.server.absoluteString == "https://[fd00:10:96::1]:6443")
        #expect(config.server.port == 6443)
    }

    @Test func namespaceDefaultsAndPodNamespaceWins() throws {
        let fixtures = try ConfigFixtures()
        let directory = try serviceAccount(fixtures, namespace: nil)
        let plain = try ClusterConfigurationLoader.inCluster(
            environment: Self.clusterEnvironment, serviceAccountDirectory: directory)
        #expect(plain.namespace == "default")
        var environment = Self.clusterEnvironment
        environment["POD_NAMESPACE"] = "from-downward-api"
        let downward = try ClusterConfigurationLoader.inCluster(
            environment: environment, serviceAccountDirectory: directory)
        #expect(downward.namespace == "from-downward-api")
    }

    @Test func missingCAFailsClosed() throws {
        let fixtures = try ConfigFixtures()
        let directory = try serviceAccount(fixtures, ca: nil)
        let error = try #require(throws: ConfigurationError.self) {
            try ClusterConfigurationLoader.inCluster(
                environment: Self.clusterEnvironment, serviceAccountDirectory: directory)
        }
        #expect(error.code == .fileNotFound)
        #expect(error.file == directory + "/ca.crt")
        #expect(error.message.contains(directory + "/ca.crt"))
        #expect(error.message.contains("without verifying"))
        // load() in a pod does not fall back to anything else either.
        let viaLoad = try #require(throws: ConfigurationError.self) {
            try ClusterConfigurationLoader.load(
                kubeconfig: nil, context: nil, environment: Self.clusterEnvironment,
                homeDirectory: fixtures.path("merge/a"), serviceAccountDirectory: directory)
        }
        #expect(viaLoad.code == .fileNotFound)
    }

    @Test func missingTokenIsAnError() throws {
        let fixtures = try ConfigFixtures()
        let directory = try serviceAccount(fixtures, token: nil)
        let error = try #require(throws: ConfigurationError.self) {
            try ClusterConfigurationLoader.inCluster(
                environment: Self.clusterEnvironment, serviceAccountDirectory: directory)
        }
        #expect(error.code == .fileNotFound)
        #expect(error.message.contains(directory + "/token"))
    }

    @Test func notInCluster() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try ClusterConfigurationLoader.inCluster(
                environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1"], serviceAccountDirectory: "/nonexistent")
        }
        #expect(error.code == .notInCluster)
    }

    // MARK: Load order

    @Test func explicitKubeconfigWinsOverEverything() throws {
        let fixtures = try ConfigFixtures()
        var environment = Self.clusterEnvironment
        environment["KUBECONFIG"] = fixtures.path("merge/a/config")
        let config = try ClusterConfigurationLoader.load(
            kubeconfig: fixtures.path("basic.yaml"), context: "prod", environment: environment,
            homeDirectory: fixtures.path("home"), serviceAccountDirectory: try serviceAccount(fixtures))
        #expect(config.source == "kubeconfig \(fixtures.path("basic.yaml")) (context prod)")
    }

    @Test func explicitKubeconfigThatIsMissingIsAnError() throws {
        let fixtures = try ConfigFixtures()
        let missing = fixtures.path("no-such-kubeconfig")
        let error = try #require(throws: ConfigurationError.self) {
            try ClusterConfigurationLoader.load(
                kubeconfig: missing, context: nil, environment: ["KUBECONFIG": fixtures.path("basic.yaml")],
                homeDirectory: fixtures.path("home"))
        }
        #expect(error.code == .fileNotFound)
        #expect(error.file == missing)
        #expect(error.message == "kubeconfig \(missing) does not exist")
    }

    @Test func kubeconfigListSkipsMissingAndEmptyEntries() throws {
        let fixtures = try ConfigFixtures()
        let list = [fixtures.path("missing-one"), "", fixtures.path("merge/b/config"), fixtures.path("merge/a/config")]
        var environment = Self.clusterEnvironment
        environment["KUBECONFIG"] = list.joined(separator: ":")
        let config = try ClusterConfigurationLoader.load(
            kubeconfig: nil, context: nil, environment: environment, homeDirectory: fixtures.path("home"))
        #expect(config.source == "kubeconfig \(fixtures.path("merge/b/config")) (context b-context)")
    }

    @Test func kubeconfigListWithNoExistingFileIsAnError() throws {
        let fixtures = try ConfigFixtures()
        let error = try #require(throws: ConfigurationError.self) {
            try ClusterConfigurationLoader.load(
                kubeconfig: nil, context: nil,
                environment: ["KUBECONFIG": "\(fixtures.path("gone-1")):\(fixtures.path("gone-2"))"],
                homeDirectory: fixtures.path("merge/a"))
        }
        #expect(error.code == .noConfiguration)
        #expect(error.message.contains(fixtures.path("gone-1")) && error.message.contains(fixtures.path("gone-2")))
    }

    @Test func inClusterBeforeHomeKubeconfig() throws {
        let fixtures = try ConfigFixtures()
        try fixtures.write("home/.kube/config", try fixtures.contents("basic.yaml"))
        let config = try ClusterConfigurationLoader.load(
            kubeconfig: nil, context: "dev", environment: Self.clusterEnvironment,
            homeDirectory: fixtures.path("home"), serviceAccountDirectory: try serviceAccount(fixtures))
        #expect(config.source == "in-cluster")
        #expect(config.warnings == ["context dev ignored: running in cluster with its service account"])
    }

    @Test func homeKubeconfigLast() throws {
        let fixtures = try ConfigFixtures()
        try fixtures.write("home/.kube/config", try fixtures.contents("basic.yaml"))
        let config = try ClusterConfigurationLoader.load(
            kubeconfig: nil, context: nil, environment: ["KUBECONFIG": ""], homeDirectory: fixtures.path("home"))
        #expect(config.source == "kubeconfig \(fixtures.path("home/.kube/config")) (context dev)")
    }

    @Test func nothingFound() throws {
        let fixtures = try ConfigFixtures()
        let error = try #require(throws: ConfigurationError.self) {
            try ClusterConfigurationLoader.load(
                kubeconfig: nil, context: nil, environment: [:], homeDirectory: fixtures.path("home"))
        }
        #expect(error.code == .noConfiguration)
        #expect(error.message.contains(fixtures.path("home/.kube/config")))
    }
}
