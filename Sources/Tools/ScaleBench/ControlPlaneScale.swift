import ControllerOptions
import Foundation
import KubernetesClient
import KubernetesControlPlane
import KubernetesModel
import PrometheusTestSupport

/// The steady state on a real control plane: N policies over N Deployments installed as a user would (the CRD,
/// `config/rbac`, the controller as its ServiceAccount), in the states a fleet is really in, and every request the
/// controller makes counted by the API server's audit log.
extension ScaleBench {
    struct ControlPlaneRow {
        var policies: Int
        var firstRound: Double
        var seconds: Double
        /// Requests per minute by verb (`update status`, `create events`, …), from the audit log.
        var perMinute: [String: Double]
        var writesPerMinute: Double
        /// Writes per minute by the state of the policy's workload.
        var writesByState: [String: Double]
        var cpuCores: Double
        var peakRSSMiB: Double
    }

    /// One third of the workloads serve with values that move a little every query; one third have pods that never
    /// become ready (no node, no series); one third have ready pods whose series are missing.
    enum WorkloadState: String, CaseIterable {
        case moving = "values moving", notReady = "pods not ready", seriesMissing = "series missing"

        static func of(_ index: Int) -> WorkloadState { allCases[index % allCases.count] }
    }

    static func measureOnControlPlane(
        policies count: Int, seconds: Double, controller binary: String, options: ControllerOptions
    ) async throws -> ControlPlaneRow {
        let plane = try await KubernetesControlPlane.start()
        defer { plane.stop() }
        let root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        try plane.kubectl(["apply", "-f", root.appendingPathComponent("crds").path])
        try plane.kubectl([
            "wait", "--for=condition=Established", "--timeout=60s",
            "crd/inferenceautoscalepolicies.autoscaling.inference.dev",
        ])
        try plane.kubectl(["create", "namespace", "inference-autoscaler-system"])
        try plane.kubectl(["apply", "-k", root.appendingPathComponent("config/rbac").path])

        let perNamespace = 100
        let namespaces = (0..<max(1, (count + perNamespace - 1) / perNamespace)).map { "bench-\($0)" }
        var manifests = namespaces.map { "apiVersion: v1\nkind: Namespace\nmetadata: {name: \($0)}\n" }
        for index in 0..<count {
            let namespace = namespaces[index / perNamespace]
            manifests.append(
                """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: model-\(index), namespace: \(namespace)}
                spec:
                  replicas: 1
                  selector: {matchLabels: {app: model-\(index)}}
                  template:
                    metadata: {labels: {app: model-\(index)}}
                    spec: {containers: [{name: vllm, image: vllm/vllm-openai}]}
                ---
                apiVersion: autoscaling.inference.dev/v1alpha1
                kind: InferenceAutoscalePolicy
                metadata: {name: model-\(index), namespace: \(namespace)}
                spec:
                  targetRef: {apiVersion: apps/v1, kind: Deployment, name: model-\(index)}
                  minReplicas: 1
                  maxReplicas: 10
                  signals: [{type: QueueDepth, target: 5}]
                  disruptionBudget: {maxUnavailable: 1}

                """)
        }
        // kubectl sends one request per object; in batches, so one failure names its batch.
        for start in stride(from: 0, to: manifests.count, by: 500) {
            let batch = manifests[start..<min(start + 500, manifests.count)]
            try plane.kubectl(["apply", "--server-side", "-f", "-"], input: batch.joined(separator: "---\n"))
        }

        // The pods the Deployment controller made: the ready ones are marked as a kubelet would, and export values.
        let prometheus = FixturePrometheus(steady: 2, hot: 40, jitter: 0.5)
        let prometheusServer = try await prometheus.serve()
        defer { Task { await prometheusServer.stop() } }
        let admin = KubernetesAPIClient(
            configuration: try ClusterConfigurationLoader.kubeconfig(paths: [plane.adminKubeconfig.path], context: nil),
            options: .init(rateLimit: .init(qps: 500, burst: 1000)))
        var marked = Set<String>()
        let deadline = Date().addingTimeInterval(900)
        while marked.count < count - count / 3, Date() < deadline {
            let pods = try await admin.listAll(DynamicObject.self, .pods).items
            var serving: [String: [String]] = [:]
            for pod in pods {
                // model-N-<replicaset hash>-<pod hash>
                guard let name = pod.metadata.name, let namespace = pod.metadata.namespace else { continue }
                let parts = name.split(separator: "-")
                guard parts.count >= 3, let index = Int(parts[1]) else { continue }
                let state = WorkloadState.of(index)
                guard state != .notReady else { continue }
                if state == .moving { serving[namespace, default: []].append(name) }
                guard !marked.contains(name) else { continue }
                let now = JSONValue.string(Timestamp.format(Date()))
                let condition = { (type: String) in
                    JSONValue.object([
                        "type": .string(type), "status": .string("True"), "lastTransitionTime": now,
                    ])
                }
                _ = try await admin.patchStatus(
                    DynamicObject.self, .pods, namespace: namespace, name: name,
                    status: .object([
                        "phase": .string("Running"), "podIP": .string("10.0.0.1"),
                        "conditions": .array([condition("PodScheduled"), condition("Ready")]),
                    ]))
                marked.insert(name)
            }
            prometheus.state.withLock { $0.pods = serving }
            if marked.count < count - count / 3 { try await Task.sleep(for: .seconds(2)) }
        }

        let directory = plane.directory
        let kubeconfig = try plane.serviceAccountKubeconfig(
            namespace: "inference-autoscaler-system", serviceAccount: "inference-autoscaler")
        var options = options
        options.kubeconfig = kubeconfig.path
        options.leaderElect = true
        options.leaderElectionNamespace = "inference-autoscaler-system"
        let (process, log) = try controllerProcess(
            binary, options: options, prometheus: prometheusServer.url, metricsPort: try PrometheusServer.freePort(),
            directory: directory)
        let started = Date()
        try process.run()
        defer {
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }

        // The first round: every policy has a status.
        while true {
            guard process.isRunning else {
                throw BenchError("the controller exited: \(try String(contentsOf: log, encoding: .utf8))")
            }
            let observed = try plane.kubectl([
                "get", "inferenceautoscalepolicies", "-A", "-o",
                "jsonpath={range .items[*]}{.status.observedGeneration}{\"\\n\"}{end}",
            ])
            if observed.split(separator: "\n").filter({ !$0.isEmpty }).count >= count { break }
            try await Task.sleep(for: .seconds(2))
        }
        let firstRound = Date().timeIntervalSince(started)
        // Settling: the failure counts reach their limit, the budgets are applied.
        try await Task.sleep(for: .seconds(180))

        let user = "system:serviceaccount:inference-autoscaler-system:inference-autoscaler"
        let before = try plane.auditEvents().count
        let cpuBefore = cpuSeconds(process.processIdentifier)
        let windowStart = Date()
        try await Task.sleep(for: .seconds(seconds))
        let elapsed = Date().timeIntervalSince(windowStart)
        let cpu = cpuSeconds(process.processIdentifier) - cpuBefore
        let requests = try plane.auditEvents().dropFirst(before).filter { $0.user == user }
        var perMinute: [String: Double] = [:]
        for request in requests {
            let what = [request.verb, request.resource.map { $0 + (request.subresource.map { "/\($0)" } ?? "") }]
                .compactMap { $0 }.joined(separator: " ")
            perMinute[what, default: 0] += 60 / elapsed
        }
        let writes = requests.filter { !["get", "list", "watch"].contains($0.verb) && $0.resource != "leases" }
        if ProcessInfo.processInfo.environment["SCALE_BENCH_DEBUG"] != nil {
            for write in writes.prefix(30) {
                FileHandle.standardError.write(Data("  steady-state write: \(write.verb) \(write.requestURI)\n".utf8))
            }
        }
        var writesByState: [String: Double] = [:]
        for state in WorkloadState.allCases { writesByState[state.rawValue] = 0 }
        for write in writes {
            guard let index = write.name.flatMap({ Int($0.split(separator: "-").last ?? "") }) else { continue }
            writesByState[WorkloadState.of(index).rawValue, default: 0] += 60 / elapsed
        }
        return ControlPlaneRow(
            policies: count, firstRound: firstRound, seconds: elapsed, perMinute: perMinute,
            writesPerMinute: Double(writes.count) * 60 / elapsed, writesByState: writesByState, cpuCores: cpu / elapsed,
            peakRSSMiB: statusMiB(process.processIdentifier, "VmHWM"))
    }

    static func controlPlaneReport(_ rows: [ControlPlaneRow], command: String) -> String {
        var text = """
            # Steady state on a real control plane

            Made by `make bench-scale` (`inference-tools \(command)`), on this repository's 2-core machine, against
            `../shared/kube/control-plane` (etcd, kube-apiserver v1.36 with RBAC and an audit log, kube-controller-manager).
            Installed as a user would: the CRD, `config/rbac`, the controller (`--controller`: `make bench-scale` passes the
            shipped build) as its ServiceAccount
            with leader election. N Deployments of one replica and N policies (QueueDepth, 15 s polling, a
            PodDisruptionBudget, 100 per namespace): a third serve with values that move every query (2 ± 0.5 against a
            target of 5), a third have pods that never become ready (no node: no series), a third have ready pods whose
            series are missing. After every policy has a status and three more minutes (failure counts reach their limit),
            every request the controller's ServiceAccount makes is counted from the audit log over the window. Lease
            renewals are leader election's and are listed, not counted as writes. Values that move refresh status at most
            every 180 s (`ReconcilePlanner.valueRefreshInterval`), and a namespace's policies poll in one phase, so a
            window of a multiple of 180 s counts them fairly.

            | policies | first round | window | requests / min by verb and resource | writes / min | writes / min by workload state | CPU (cores) | peak RSS (MiB) |
            | ---: | ---: | ---: | --- | ---: | --- | ---: | ---: |

            """
        for row in rows {
            let verbs = row.perMinute.sorted { $0.key < $1.key }.map {
                "\($0.key) \(String(format: "%.1f", $0.value))"
            }
            text +=
                "| \(row.policies) | \(String(format: "%.0f s", row.firstRound)) | \(String(format: "%.0f s", row.seconds)) "
                + "| \(verbs.isEmpty ? "none" : verbs.joined(separator: ", ")) "
                + "| \(String(format: "%.1f", row.writesPerMinute)) "
                + "| \(row.writesByState.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.1f", $0.value))" }.joined(separator: ", ")) "
                + "| \(String(format: "%.2f", row.cpuCores)) "
                + "| \(String(format: "%.1f", row.peakRSSMiB)) |\n"
        }
        return text
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
