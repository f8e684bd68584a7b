import Foundation
import KubernetesClient
import KubernetesModel
import KubernetesTestServer
import Testing
import Yams

/// The install as GitOps tools use it: every kustomization renders with `kubectl kustomize` (installed by `make test`)
/// into the objects its choice needs, and every object applies with server-side apply under a field manager twice, the
/// second time changing nothing (Argo CD and Flux apply on every sync).
@Suite(.serialized) struct KustomizeTests {
    static let installs = [
        "config/default", "config/overlays/single-namespace", "config/overlays/monitoring", "config/prometheus",
    ]

    /// The rendered objects, in kustomize's order.
    static func render(_ directory: String) throws -> [[String: Any]] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        process.arguments = ["kubectl", "kustomize", root.appendingPathComponent(directory).path]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let rendered = out.fileHandleForReading.readDataToEndOfFile()
        let problem = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw KustomizeError(
                "kubectl kustomize \(directory) exited \(process.terminationStatus) (make test installs kubectl): "
                    + String(decoding: problem, as: UTF8.self))
        }
        return try Yams.load_all(yaml: String(decoding: rendered, as: UTF8.self)).compactMap { $0 as? [String: Any] }
    }

    struct KustomizeError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    static func named(_ objects: [[String: Any]], _ kind: String, _ name: String) -> [String: Any]? {
        objects.first {
            $0["kind"] as? String == kind && ($0["metadata"] as? [String: Any])?["name"] as? String == name
        }
    }

    static func namespace(_ object: [String: Any]?) -> String? {
        (object?["metadata"] as? [String: Any])?["namespace"] as? String
    }

    static func args(_ objects: [[String: Any]]) -> [String] {
        let deployment = named(objects, "Deployment", "inference-autoscaler")
        let spec = (deployment?["spec"] as? [String: Any])?["template"] as? [String: Any]
        let containers = (spec?["spec"] as? [String: Any])?["containers"] as? [[String: Any]]
        return containers?.first?["args"] as? [String] ?? []
    }

    @Test func theDefaultInstallGrantsClusterWide() throws {
        let objects = try Self.render("config/default")
        #expect(Self.named(objects, "ClusterRole", "inference-autoscaler") != nil)
        #expect(Self.named(objects, "ClusterRoleBinding", "inference-autoscaler") != nil)
        #expect(
            Self.named(objects, "CustomResourceDefinition", "inferenceautoscalepolicies.autoscaling.inference.dev")
                != nil)
        #expect(!Self.args(objects).contains { $0.hasPrefix("--namespace") })
    }

    @Test func oneNamespaceIsWatchedWithARoleThereAndNoClusterGrant() throws {
        let objects = try Self.render("config/overlays/single-namespace")
        #expect(Self.named(objects, "ClusterRole", "inference-autoscaler") == nil)
        #expect(Self.named(objects, "ClusterRoleBinding", "inference-autoscaler") == nil)
        let role = Self.named(objects, "Role", "inference-autoscaler")
        let binding = Self.named(objects, "RoleBinding", "inference-autoscaler")
        #expect(Self.namespace(role) == "inference" && Self.namespace(binding) == "inference")
        #expect(Self.args(objects).contains("--namespace=inference"))
        let subjects = binding?["subjects"] as? [[String: Any]]
        #expect(subjects?.first?["namespace"] as? String == "inference-autoscaler-system")
        // The Role grants exactly the ClusterRole's rules: the same requests, in one namespace.
        let clusterRole = try #require(
            Self.named(try Self.render("config/default"), "ClusterRole", "inference-autoscaler"))
        #expect(
            Self.grants(role?["rules"]) == Self.grants(clusterRole["rules"])
                && !Self.grants(clusterRole["rules"]).isEmpty)
        // The leader-election Role stays in the controller's own namespace.
        #expect(
            Self.namespace(Self.named(objects, "Role", "inference-autoscaler-leader-election"))
                == "inference-autoscaler-system")
    }

    static func grants(_ rules: Any?) -> Set<String> {
        var grants = Set<String>()
        for rule in rules as? [[String: Any]] ?? [] {
            for group in rule["apiGroups"] as? [String] ?? [] {
                for resource in rule["resources"] as? [String] ?? [] {
                    for verb in rule["verbs"] as? [String] ?? [] { grants.insert("\(group)|\(resource)|\(verb)") }
                }
            }
        }
        return grants
    }

    @Test func monitoringAddsAServiceMonitorOnTheMetricsPortAndADashboardForGrafanasSidecar() throws {
        let objects = try Self.render("config/overlays/monitoring")
        let monitor = try #require(Self.named(objects, "ServiceMonitor", "inference-autoscaler"))
        let service = try #require(Self.named(objects, "Service", "inference-autoscaler-metrics"))
        #expect(Self.namespace(monitor) == Self.namespace(service))
        let selector =
            ((monitor["spec"] as? [String: Any])?["selector"] as? [String: Any])?["matchLabels"] as? [String: String]
        let labels = (service["metadata"] as? [String: Any])?["labels"] as? [String: String] ?? [:]
        #expect(
            selector.map { $0.allSatisfy { labels[$0.key] == $0.value } } == true,
            "\(String(describing: selector)) vs \(labels)")
        let port = ((monitor["spec"] as? [String: Any])?["endpoints"] as? [[String: Any]])?.first?["port"] as? String
        let ports = ((service["spec"] as? [String: Any])?["ports"] as? [[String: Any]] ?? []).compactMap {
            $0["name"] as? String
        }
        #expect(port.map(ports.contains) == true)
        let dashboard = try #require(Self.named(objects, "ConfigMap", "inference-autoscaler-dashboard"))
        #expect(Self.namespace(dashboard) == "inference-autoscaler-system")
        #expect(
            ((dashboard["metadata"] as? [String: Any])?["labels"] as? [String: String])?["grafana_dashboard"] == "1")
        let json = try #require((dashboard["data"] as? [String: String])?["inference-autoscaler-dashboard.json"])
        let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect((parsed?["panels"] as? [Any])?.isEmpty == false)
        // The ServiceMonitor alone, after config/default.
        #expect(Self.named(try Self.render("config/prometheus"), "ServiceMonitor", "inference-autoscaler") != nil)
    }

    /// The kinds the install has beyond what the test API server serves from the start.
    static let kinds: [ResourceType] = [
        .init(group: "", version: "v1", resource: "serviceaccounts", kind: "ServiceAccount", tracksGeneration: false),
        .init(
            group: "", version: "v1", resource: "services", kind: "Service", hasStatus: true, tracksGeneration: false),
        .init(
            group: "rbac.authorization.k8s.io", version: "v1", resource: "roles", kind: "Role", tracksGeneration: false),
        .init(
            group: "rbac.authorization.k8s.io", version: "v1", resource: "rolebindings", kind: "RoleBinding",
            tracksGeneration: false),
        .init(
            group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterroles", kind: "ClusterRole",
            namespaced: false, tracksGeneration: false),
        .init(
            group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterrolebindings",
            kind: "ClusterRoleBinding", namespaced: false, tracksGeneration: false),
        .init(
            group: "monitoring.coreos.com", version: "v1", resource: "servicemonitors", kind: "ServiceMonitor",
            isCustomResource: true),
    ]

    @Test func everyManifestAppliesTwiceWithNoChangeTheSecondTime() async throws {
        let server = try await TestAPIServer.start(.init(initialNamespaces: ["default", "inference"]))
        do {
            try await Self.applyEveryInstallTwice(server)
        } catch {
            try await server.stop()
            throw error
        }
        try await server.stop()
    }

    static func applyEveryInstallTwice(_ server: TestAPIServer) async throws {
        for kind in Self.kinds { server.register(kind) }
        let client = KubernetesAPIClient(
            configuration: ClusterConfiguration(
                server: server.url, tls: TLSSettings(caCertificatePEM: Data(server.caCertificatePEM.utf8)),
                credentials: .token(StaticToken("test-token")), namespace: "default", source: "test"))
        let types = ResourceType.preregistered + Self.kinds
        for install in Self.installs {
            let objects = try Self.render(install)
            for pass in 0..<2 {
                for object in objects {
                    let kind = try #require(object["kind"] as? String)
                    let apiVersion = try #require(object["apiVersion"] as? String)
                    let type = try #require(
                        types.first {
                            $0.kind == kind
                                && ($0.group.isEmpty ? $0.version : "\($0.group)/\($0.version)") == apiVersion
                        },
                        "\(install): no served type for \(apiVersion) \(kind)")
                    let resource = APIResource(
                        group: type.group, version: type.version, name: type.resource, kind: type.kind,
                        namespaced: type.namespaced)
                    let metadata = object["metadata"] as? [String: Any] ?? [:]
                    let name = try #require(metadata["name"] as? String)
                    let namespace = type.namespaced ? metadata["namespace"] as? String : nil
                    #expect(!type.namespaced || namespace != nil, "\(install): \(kind) \(name) has no namespace")
                    let body = try JSONDecoder().decode(
                        JSONValue.self, from: JSONSerialization.data(withJSONObject: object))
                    let before = try? await client.get(JSONValue.self, resource, namespace: namespace, name: name)
                    let after = try await client.patch(
                        JSONValue.self, resource, namespace: namespace, name: name,
                        .apply(body, fieldManager: "argocd-controller", force: false))
                    if pass == 1 {
                        #expect(
                            before?.value(at: "metadata.resourceVersion")
                                == after.value(at: "metadata.resourceVersion"),
                            "\(install): the second apply of \(kind) \(name) changed it")
                    }
                }
            }
        }
    }
}
