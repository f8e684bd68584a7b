import AutoscalerCore
import Foundation
import KubernetesClient
import KubernetesControlPlane
import KubernetesModel
import Logging
import Testing

@testable import Controller

/// A real control plane (etcd, kube-apiserver with RBAC, kube-controller-manager) with the shipped CRD and
/// `config/rbac` installed, a namespace `inference`, and the controller running as its ServiceAccount with signals
/// the test sets. There is no kubelet: `kubelet` marks the pods Ready the way one would.
final class RealClusterRig: @unchecked Sendable {
    static let controllerNamespace = "inference-autoscaler-system"
    static let serviceAccount = "inference-autoscaler"
    static let user = "system:serviceaccount:\(controllerNamespace):\(serviceAccount)"

    let plane: KubernetesControlPlane
    /// As the cluster's admin, for what the test does.
    let admin: KubernetesAPIClient
    let signals: FakeSignals
    private(set) var controller: Task<Void, any Error>?
    private var kubeletTask: Task<Void, Never>?

    /// What was installed of the RBAC (rendered), to compare the audit log with.
    private(set) var installed = ""

    /// - Parameters:
    ///   - install: the kustomization whose RBAC is installed: `config/rbac` (the ClusterRole), or an overlay such as
    ///     `config/overlays/single-namespace` (its Deployment and Service are left out: the controller runs here).
    ///   - role: a change to the rendered RBAC before it is applied (the shipped one when nil).
    init(
        extraAPIServerArgs: [String] = [], install: String = "config/rbac", role: ((String) -> String)? = nil
    ) async throws {
        plane = try await KubernetesControlPlane.start(.init(extraAPIServerArgs: extraAPIServerArgs))
        let root = Self.packageRoot
        do {
            try plane.kubectl(["apply", "-f", root.appendingPathComponent("crds").path])
            try plane.kubectl([
                "wait", "--for=condition=Established", "--timeout=60s",
                "crd/inferenceautoscalepolicies.autoscaling.inference.dev",
            ])
            try plane.kubectl(["create", "namespace", Self.controllerNamespace])
            try plane.kubectl(["create", "namespace", "inference"])
            let rendered = try plane.kubectl(["kustomize", root.appendingPathComponent(install).path])
                .components(separatedBy: "\n---\n")
                .filter { !$0.contains("\nkind: Deployment\n") && !$0.contains("\nkind: Service\n") }
                .joined(separator: "\n---\n")
            installed = role?(rendered) ?? rendered
            try plane.kubectl(["apply", "-f", "-"], input: installed)
            let configuration = try ClusterConfigurationLoader.kubeconfig(
                paths: [plane.adminKubeconfig.path], context: nil)
            admin = KubernetesAPIClient(configuration: configuration)
        } catch {
            plane.stop()
            throw error
        }
        signals = FakeSignals([.value(0)])
    }

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// The controller's caches, queue and workers, with leader election, authenticated as its ServiceAccount.
    func startController(leaderElect: Bool = true, namespaces: [String] = []) throws {
        let kubeconfig = try plane.serviceAccountKubeconfig(
            namespace: Self.controllerNamespace, serviceAccount: Self.serviceAccount)
        let client = KubernetesAPIClient(
            configuration: try ClusterConfigurationLoader.kubeconfig(paths: [kubeconfig.path], context: nil))
        let logger = Logger(label: "real-cluster")
        let caches = ControllerCaches(
            client: client, namespaces: namespaces, kedaDiscoveryInterval: .seconds(2), logger: logger)
        let elector =
            leaderElect
            ? LeaderElector(
                client: client,
                configuration: .init(
                    namespace: Self.controllerNamespace, name: "inference-autoscaler-leader", identity: "test",
                    leaseDuration: 15, renewDeadline: 10, retryPeriod: 2),
                clock: ContinuousClock(), logger: logger) : nil
        let service = ControllerService(
            caches: caches,
            cluster: LiveClusterAPI(client: client, caches: caches, instance: "test", gate: elector ?? AlwaysWrite()),
            signals: signals, configuration: .init(maxConcurrentReconciles: 2), leadership: elector)
        controller = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                if let elector { group.addTask { try await elector.run() } }
                group.addTask { try await service.run() }
                try await group.waitForAll()
            }
        }
    }

    /// Marks every pod of `namespace` scheduled, running and Ready, as a kubelet would, until stopped.
    func kubelet(namespace: String = "inference") {
        kubeletTask = Task { [admin] in
            while !Task.isCancelled {
                if let pods = try? await admin.listAll(DynamicObject.self, .pods, namespace: namespace).0 {
                    for pod in pods where !Self.isReady(pod) {
                        let now = Timestamp.format(Date())
                        let status: JSONValue = .object([
                            "phase": .string("Running"), "podIP": .string("10.0.0.1"),
                            "conditions": .array([
                                .object([
                                    "type": .string("PodScheduled"), "status": .string("True"),
                                    "lastTransitionTime": .string(now),
                                ]),
                                .object([
                                    "type": .string("Ready"), "status": .string("True"),
                                    "lastTransitionTime": .string(now),
                                ]),
                            ]),
                        ])
                        _ = try? await admin.patchStatus(
                            DynamicObject.self, .pods, namespace: namespace, name: pod.metadata.name ?? "",
                            status: status)
                    }
                }
                try? await Task.sleep(for: .milliseconds(300))
            }
        }
    }

    static func isReady(_ pod: DynamicObject) -> Bool {
        (pod["status", "conditions"]?.arrayValue ?? []).contains {
            $0["type"] == .string("Ready") && $0["status"] == .string("True")
        }
    }

    func apply(_ yaml: String) throws {
        try plane.kubectl(["apply", "-f", "-"], input: yaml)
    }

    /// A Deployment `name` in `inference` of `replicas` pods labelled `app: name`.
    func deployment(_ name: String, replicas: Int, namespace: String = "inference") throws {
        try apply(
            """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: \(name), namespace: \(namespace)}
            spec:
              replicas: \(replicas)
              selector: {matchLabels: {app: \(name)}}
              template:
                metadata: {labels: {app: \(name)}}
                spec: {containers: [{name: engine, image: vllm/vllm-openai}]}
            """)
    }

    func replicas(of deployment: String, namespace: String = "inference") async throws -> Int? {
        try await admin.get(DynamicObject.self, .deployments, namespace: namespace, name: deployment)[
            "spec", "replicas"]?
            .intValue
    }

    func policy(_ name: String, namespace: String = "inference") async throws -> InferenceAutoscalePolicy {
        try await admin.get(
            InferenceAutoscalePolicy.self, .inferenceAutoscalePolicies, namespace: namespace, name: name)
    }

    func condition(_ type: String, of policy: String) async throws -> PolicyCondition? {
        try await self.policy(policy).status?.conditions?.first { $0.type == type }
    }

    func budget(_ name: String, namespace: String = "inference") async throws -> DynamicObject? {
        do {
            return try await admin.get(DynamicObject.self, .podDisruptionBudgets, namespace: namespace, name: name)
        } catch let error as KubernetesError where error.isNotFound {
            return nil
        }
    }

    /// The controller's requests, from the API server's audit log.
    func controllerRequests() throws -> [AuditEvent] {
        try plane.auditEvents().filter { $0.user == Self.user }
    }

    /// Runs `body`, then stops everything whether it threw or not.
    func run(_ body: (RealClusterRig) async throws -> Void) async throws {
        do {
            try await body(self)
        } catch {
            await stop()
            throw error
        }
        await stop()
    }

    func stop() async {
        kubeletTask?.cancel()
        controller?.cancel()
        _ = await controller?.result
        plane.stop()
    }

    /// `ControllerIntegrationTests.eventually` with more room (a loaded machine is slow, and a bound that passes only
    /// lets a later check run), where a request that fails (the API server restarting) counts as not yet.
    static func eventually(
        _ what: String, within seconds: Double = 90, _ condition: () async throws -> Bool
    ) async throws {
        try await ControllerIntegrationTests.eventually(what, within: seconds) { (try? await condition()) == true }
    }
}

extension AuditEvent {
    /// `group|resource[/subresource]|verb` as RBAC reads the request. A server-side apply that created its object
    /// (201) was authorized as `create` as well as `patch`.
    var grants: [String] {
        guard let resource else { return [] }
        let name = "\(apiGroup)|\(resource)\(subresource.map { "/\($0)" } ?? "")"
        var grants = ["\(name)|\(verb)"]
        if verb == "patch", code == 201 { grants.append("\(name)|create") }
        return grants
    }
}
