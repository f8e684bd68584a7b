import Foundation
import KubernetesModel
import KubernetesTestServer
import PolicyFiles

/// The demo's cluster: the test API server with the CRD, the namespace and the Deployment, plus the parts of the
/// real control plane the demo needs: the kubelet marks pods Ready, and the Deployment and disruption controllers
/// keep their objects' status current.
final class DemoCluster: Sendable {
    static let namespace = "inference"
    static let deployment = "vllm-llama3"
    static let labels = ["app": "vllm-llama3", "pod-template-hash": "7d9f8c5b64"]

    let server: TestAPIServer
    let token: String

    private init(server: TestAPIServer, token: String) {
        self.server = server
        self.token = token
    }

    /// Starts the API server, installs the CRD from `crdPath` and creates the namespace and the Deployment.
    static func start(crdPath: String) async throws -> DemoCluster {
        let token = "demo-" + UUID().uuidString.lowercased()
        let server = try await TestAPIServer.start(
            .init(
                tokens: [token], bookmarkInterval: 30, compactionLimit: 50_000,
                initialNamespaces: ["default", "kube-system", "kube-public", "kube-node-lease", namespace],
                userName: "demo-admin"))
        do {
            let text = try String(contentsOfFile: crdPath, encoding: .utf8)
            for document in try PolicyFiles.documents(text, file: crdPath)
            where document["kind"]?.stringValue == "CustomResourceDefinition" {
                try server.create(document, resource: .customResourceDefinitions)
            }
            try server.create(deploymentObject(), resource: .deployments)
        } catch {
            try? await server.stop()
            throw error
        }
        return DemoCluster(server: server, token: token)
    }

    func stop() async {
        try? await server.stop()
    }

    func kubeconfig() -> String {
        server.kubeconfig(token: token, namespace: Self.namespace)
    }

    private static func deploymentObject() -> JSONValue {
        let labels = JSONValue.object(Self.labels.filter { $0.key == "app" }.mapValues { JSONValue.string($0) })
        return .object([
            "apiVersion": .string("apps/v1"), "kind": .string("Deployment"),
            "metadata": .object(["name": .string(deployment), "namespace": .string(namespace), "labels": labels]),
            "spec": .object([
                "replicas": .number(1),
                "selector": .object(["matchLabels": labels]),
                "template": .object([
                    "metadata": .object(["labels": labels]),
                    "spec": .object([
                        "terminationGracePeriodSeconds": .number(120),
                        "containers": .array([
                            .object([
                                "name": .string("vllm"), "image": .string("vllm/vllm-openai:v0.6.3"),
                                "args": .array([.string("--model"), .string("meta-llama/Llama-3.1-8B-Instruct")]),
                                "resources": .object(["limits": .object(["nvidia.com/gpu": .string("1")])]),
                            ])
                        ]),
                    ]),
                ]),
            ]),
        ])
    }

    /// The Deployment's `spec.replicas`, as the controller set it.
    var desiredReplicas: Int {
        server.object(resource: .deployments, namespace: Self.namespace, name: Self.deployment)?["spec"]?["replicas"]
            .flatMap { if case .number(let value) = $0 { Int(value) } else { nil } } ?? 1
    }

    /// A new Pending pod of the Deployment, scheduled to a GPU node; its engine listens on `port`.
    func createPod(name: String, port: Int, node: String, at time: Date) throws {
        var labels: [String: JSONValue] = [:]
        for (key, value) in Self.labels { labels[key] = .string(value) }
        let pod: JSONValue = .object([
            "apiVersion": .string("v1"), "kind": .string("Pod"),
            "metadata": .object([
                "name": .string(name), "namespace": .string(Self.namespace), "labels": .object(labels),
            ]),
            "spec": .object([
                "nodeName": .string(node),
                "containers": .array([
                    .object([
                        "name": .string("vllm"), "image": .string("vllm/vllm-openai:v0.6.3"),
                        "ports": .array([.object(["name": .string("http"), "containerPort": .number(Double(port))])]),
                    ])
                ]),
            ]),
        ])
        let created = try server.create(pod, resource: .pods)
        var status = created
        status.setValue(
            .object([
                "phase": .string("Pending"), "hostIP": .string("127.0.0.1"),
                "startTime": .string(Timestamp.format(time)),
                "conditions": .array([Self.condition("PodScheduled", true, time), Self.condition("Ready", false, time)]
                ),
            ]),
            at: "status")
        try server.update(status, resource: .pods, subresource: "status")
    }

    /// The kubelet's view once the engine has loaded its weights: Running and Ready.
    func markReady(name: String, at time: Date) throws {
        guard var pod = server.object(resource: .pods, namespace: Self.namespace, name: name) else { return }
        let started = pod["status"]?["startTime"] ?? .string(Timestamp.format(time))
        pod.setValue(
            .object([
                "phase": .string("Running"), "hostIP": .string("127.0.0.1"), "podIP": .string("127.0.0.1"),
                "startTime": started,
                "conditions": .array([
                    Self.condition("PodScheduled", true, time), Self.condition("Initialized", true, time),
                    Self.condition("ContainersReady", true, time), Self.condition("Ready", true, time),
                ]),
            ]),
            at: "status")
        try server.update(pod, resource: .pods, subresource: "status")
    }

    func deletePod(name: String) throws {
        _ = try server.delete(resource: .pods, namespace: Self.namespace, name: name)
    }

    /// What the Deployment controller and the disruption controller write: the Deployment's replica counts and the
    /// status of every PodDisruptionBudget in the namespace (this demo's pods are the only ones there).
    func updateWorkloadStatus(pods: Int, ready: Int, at time: Date) {
        if var deployment = server.object(resource: .deployments, namespace: Self.namespace, name: Self.deployment) {
            let generation = deployment["metadata"]?["generation"] ?? .number(1)
            let status: JSONValue = .object([
                "observedGeneration": generation, "replicas": .number(Double(pods)),
                "updatedReplicas": .number(Double(pods)), "readyReplicas": .number(Double(ready)),
                "availableReplicas": .number(Double(ready)),
                "unavailableReplicas": .number(Double(max(0, pods - ready))),
            ])
            if deployment["status"] != status {
                deployment.setValue(status, at: "status")
                _ = try? server.update(deployment, resource: .deployments, subresource: "status")
            }
        }
        for var budget in server.objects(resource: .podDisruptionBudgets, namespace: Self.namespace) {
            let unavailable: Int
            if case .number(let value)? = budget["spec"]?["maxUnavailable"] {
                unavailable = Int(value)
            } else if case .number(let value)? = budget["spec"]?["minAvailable"] {
                unavailable = max(0, pods - Int(value))
            } else {
                unavailable = 1
            }
            let desiredHealthy = max(0, pods - unavailable)
            var status: [String: JSONValue] = [
                "observedGeneration": budget["metadata"]?["generation"] ?? .number(1),
                "expectedPods": .number(Double(pods)),
                "currentHealthy": .number(Double(ready)), "desiredHealthy": .number(Double(desiredHealthy)),
                "disruptionsAllowed": .number(Double(max(0, ready - desiredHealthy))),
            ]
            if let old = budget["status"], old["disruptionsAllowed"] == status["disruptionsAllowed"] {
                status["conditions"] = old["conditions"]
            } else {
                let allowed = ready > desiredHealthy
                status["conditions"] = .array([
                    .object([
                        "type": .string("DisruptionAllowed"), "status": .string(allowed ? "True" : "False"),
                        "reason": .string(allowed ? "SufficientPods" : "InsufficientPods"), "message": .string(""),
                        "lastTransitionTime": .string(Timestamp.format(time)),
                    ])
                ])
            }
            let differs = ["expectedPods", "currentHealthy", "desiredHealthy", "disruptionsAllowed"].contains {
                budget["status"]?[$0] != status[$0]
            }
            if differs {
                budget.setValue(.object(status), at: "status")
                _ = try? server.update(budget, resource: .podDisruptionBudgets, subresource: "status")
            }
        }
    }

    /// The policy's status as `kubectl get iap` shows it.
    func policyStatus() -> (desired: Int?, limitedBy: String?, ready: String?, planner: String?) {
        guard let policy = server.objects(resource: .inferenceAutoscalePolicies, namespace: Self.namespace).first,
            let status = policy["status"]
        else { return (nil, nil, nil, nil) }
        var desired: Int?
        if case .number(let value)? = status["desiredReplicas"] { desired = Int(value) }
        let ready = status["conditions"].flatMap { conditions -> String? in
            guard case .array(let all) = conditions else { return nil }
            return all.first { $0["type"] == .string("Ready") }.flatMap { condition in
                guard case .string(let state)? = condition["status"] else { return nil }
                if case .string(let reason)? = condition["reason"], state != "True" { return "\(state) (\(reason))" }
                return state
            }
        }
        var limitedBy: String?
        if case .string(let value)? = status["limitedBy"] { limitedBy = value }
        // status.objective: the learned capacity, the lead time and the forecast.
        var planner: String?
        if let objective = status["objective"] {
            func number(_ key: String) -> String {
                guard case .number(let value)? = objective[key] else { return "-" }
                return value >= 100 ? String(format: "%.0f", value) : String(format: "%.1f", value)
            }
            var source = "-"
            if case .string(let value)? = objective["capacitySource"] { source = value }
            var method = "-"
            if case .string(let value)? = objective["forecastMethod"] { method = value }
            planner =
                "capacity \(number("capacityPerReplica")) req/s a replica (\(source))   lead time "
                + "\(number("leadTimeSeconds")) s   demand \(number("demand")) → forecast \(number("forecast")) req/s (\(method))"
        }
        return (desired, limitedBy, ready, planner)
    }

    /// The controller's latest Event: when, reason, note.
    func latestEvent() -> (time: Date, reason: String, note: String)? {
        server.objects(resource: .events, namespace: Self.namespace).compactMap { event -> (Date, String, String)? in
            let stamp = event.value(at: "series.lastObservedTime")?.stringValue ?? event["eventTime"]?.stringValue
            guard let time = stamp.flatMap(Timestamp.parse) else { return nil }
            return (time, event["reason"]?.stringValue ?? "", event["note"]?.stringValue ?? "")
        }
        .max { $0.0 < $1.0 }
    }

    private static func condition(_ type: String, _ status: Bool, _ time: Date) -> JSONValue {
        .object([
            "type": .string(type), "status": .string(status ? "True" : "False"),
            "lastTransitionTime": .string(Timestamp.format(time)),
        ])
    }
}
