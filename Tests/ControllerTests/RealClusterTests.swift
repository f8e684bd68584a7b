import AutoscalerCore
import Foundation
import KubernetesClient
import KubernetesControlPlane
import KubernetesModel
import Testing
import Yams

@testable import Controller

/// The shipped install on a real kube-apiserver (RBAC on) and kube-controller-manager, the controller running as its
/// ServiceAccount with `config/rbac`: what the home-made test server could not prove (authorization of applies, the
/// status subresource, owner references and their garbage collection, watches across a restart).
@Suite(.serialized, .timeLimit(.minutes(6))) struct RealClusterTests {
    static let spec = """
        apiVersion: autoscaling.inference.dev/v1alpha1
        kind: InferenceAutoscalePolicy
        metadata: {name: llama, namespace: inference}
        spec:
          targetRef: {apiVersion: apps/v1, kind: Deployment, name: vllm}
          minReplicas: 0
          maxReplicas: 6
          pollingInterval: 1s
          signals: [{type: Custom, query: 'sum(queue{namespace="inference"})', target: 5}]
          scaleToZero: {idleFor: 0s}
          behavior:
            scaleUp: {stabilizationWindow: 0s}
            scaleDown: {stabilizationWindow: 2s, policies: [{type: Pods, value: 1, period: 3s}]}
          disruptionBudget: {maxUnavailable: 1}
        """

    /// Granted, but not reached by the scenario, each with the path that needs it.
    static let grantedForPathsNotRun: [String: String] = [
        "apps|deployments/scale|get": "the target's /scale when the Deployment cache does not hold it yet",
        "apps|statefulsets/scale|get": "the same for a StatefulSet target",
        "apps|statefulsets/scale|patch": "scaling a StatefulSet target",
        "events.k8s.io|events|patch": "a repeated Event's series count, sent at most every five minutes",
        "autoscaling.inference.dev|inferenceautoscalepolicies/finalizers|update":
            "not a request: the API server checks it when the budget's owner reference sets blockOwnerDeletion",
    ]

    /// The rules of a rendered `config/rbac` (ClusterRole and the leader-election Role) as grants.
    static func grants(of rendered: String) throws -> Set<String> {
        var grants = Set<String>()
        for document in try Yams.load_all(yaml: rendered) {
            guard let object = document as? [String: Any], ["ClusterRole", "Role"].contains(object["kind"] as? String),
                let rules = object["rules"] as? [[String: Any]]
            else { continue }
            for rule in rules {
                for group in rule["apiGroups"] as? [String] ?? [] {
                    for resource in rule["resources"] as? [String] ?? [] {
                        for verb in rule["verbs"] as? [String] ?? [] { grants.insert("\(group)|\(resource)|\(verb)") }
                    }
                }
            }
        }
        return grants
    }

    static let scaledObjectCRD = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: scaledobjects.keda.sh}
        spec:
          group: keda.sh
          scope: Namespaced
          names: {kind: ScaledObject, plural: scaledobjects, singular: scaledobject}
          versions:
          - name: v1alpha1
            served: true
            storage: true
            schema:
              openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
        """

    /// The ClusterRole install, and the single-namespace overlay's Role in `inference` with the controller watching
    /// only that namespace.
    @Test(arguments: ["config/rbac", "config/overlays/single-namespace"])
    func theShippedInstallScalesWithinItsWindowsAndUsesExactlyItsGrants(_ install: String) async throws {
        let rig = try await RealClusterRig(install: install)
        try await rig.run { rig in
            try rig.apply(Self.scaledObjectCRD)
            try rig.deployment("vllm", replicas: 2)
            rig.kubelet()
            rig.signals.set([.value(15)])
            // Requests in flight, so that a scale-down marks the pods' deletion costs.
            rig.signals.running.withLock { $0 = ["vllm": 0] }
            try rig.startController(namespaces: install == "config/rbac" ? [] : ["inference"])
            try rig.apply(Self.spec)

            // Up: ceil(2 × 15 / 5) = 6, status with every condition, the printer columns, the budget owned by the policy.
            try await RealClusterRig.eventually("a scale-up to 6") { try await rig.replicas(of: "vllm") == 6 }
            try await RealClusterRig.eventually("status of 6 ready replicas") {
                let status = try await rig.policy("llama").status
                return status?.readyReplicas == 6 && status?.currentReplicas == 6
            }
            let policy = try await rig.policy("llama")
            let status = try #require(policy.status)
            #expect(status.observedGeneration == policy.metadata.generation)
            #expect(status.desiredReplicas == 6)
            let types = Set(status.conditions?.map(\.type) ?? [])
            for type in [
                "Ready", "MetricsAvailable", "Active", "ScalingLimited", "CapacityAvailable", "DisruptionBudget",
            ] {
                #expect(types.contains(type), "no \(type) condition: \(types)")
            }
            #expect(status.conditions?.first { $0.type == "Ready" }?.status == .true)
            let table = try rig.plane.kubectl(["get", "inferenceautoscalepolicies", "-n", "inference", "--no-headers"])
            let columns = table.split(whereSeparator: \.isWhitespace).map(String.init)
            // NAME TARGET MIN MAX REPLICAS DESIRED MODE LIMITED-BY READY AGE
            #expect(Array(columns.prefix(6)) == ["llama", "vllm", "0", "6", "6", "6"], "\(table)")
            #expect(columns.count > 8 && columns[8] == "True", "\(table)")
            let budget = try #require(try await rig.budget("llama"))
            let owner = try #require(budget["metadata", "ownerReferences"]?.arrayValue?.first)
            #expect(owner["uid"]?.stringValue == policy.metadata.uid)
            #expect(owner["controller"] == .bool(true))

            // Gently down: 2.5 a pod asks for 3, one pod at a time, no step skipped. First the scale-up leaves the
            // 3 s rate period: a period that holds it starts from the count before it (RateLimits), and would allow
            // more than one pod down at once.
            try await Task.sleep(for: .seconds(4))
            rig.signals.set([.value(2.5)])
            var seen: [Int] = []
            try await RealClusterRig.eventually("a gentle scale-down to 3") {
                let replicas = try await rig.replicas(of: "vllm") ?? -1
                if seen.last != replicas { seen.append(replicas) }
                return replicas == 3
            }
            #expect(seen == [6, 5, 4, 3], "one pod per period: \(seen)")

            // Zero, and the budget goes; back from zero, and it returns.
            rig.signals.set([.value(0)])
            try await RealClusterRig.eventually("zero replicas") { try await rig.replicas(of: "vllm") == 0 }
            try await RealClusterRig.eventually("the budget deleted at zero") { try await rig.budget("llama") == nil }
            rig.signals.set([.value(15)])
            try await RealClusterRig.eventually("activation from zero") {
                (try await rig.replicas(of: "vllm") ?? 0) > 0
            }
            try await RealClusterRig.eventually("the budget back") { try await rig.budget("llama") != nil }

            // Another autoscaler of the workload: held, nothing scaled, until it goes.
            for other in [
                "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: hpa, namespace: inference}\n"
                    + "spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: vllm}, minReplicas: 1, "
                    + "maxReplicas: 3}",
                "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: keda, namespace: inference}\n"
                    + "spec: {scaleTargetRef: {name: vllm}}",
            ] {
                try rig.apply(other)
                try await RealClusterRig.eventually("a Conflict") {
                    try await rig.condition("Ready", of: "llama")?.reason == "Conflict"
                }
                try rig.plane.kubectl(["delete", "-f", "-"], input: other)
                try await RealClusterRig.eventually("scaling again") {
                    try await rig.condition("Ready", of: "llama")?.reason == "Reconciled"
                }
            }

            // The policy deleted: the garbage collector removes its budget.
            try rig.plane.kubectl(["delete", "inferenceautoscalepolicy", "llama", "-n", "inference"])
            try await RealClusterRig.eventually("the budget garbage-collected") { try await rig.budget("llama") == nil }

            // The audit log against the role, both ways.
            let requests = try rig.controllerRequests()
            let denied = requests.filter { $0.code == 403 }
            #expect(denied.isEmpty, "denied: \(denied.map { "\($0.verb) \($0.requestURI)" })")
            let used = Set(requests.flatMap(\.grants))
            let granted = try Self.grants(of: rig.installed)
            #expect(used.subtracting(granted).isEmpty, "used but not granted: \(used.subtracting(granted).sorted())")
            let unused = granted.subtracting(used).subtracting(Self.grantedForPathsNotRun.keys)
            #expect(unused.isEmpty, "granted but never used: \(unused.sorted())")
            #expect(used.contains("policy|poddisruptionbudgets|create"), "the budget's apply created it")
        }
    }

    /// The field report: without `create` on budgets every apply is refused. The scale stands and is remembered,
    /// status says which step failed, and a retry does not take a second pod before the rate period allows it.
    @Test func aForbiddenBudgetIsAConditionAndTheScaleIsKept() async throws {
        let rig = try await RealClusterRig(role: Self.withoutBudgetCreate)
        try await rig.run { rig in
            // Six replicas that the load keeps at six: the first rounds scale nothing and fail at the budget.
            try rig.deployment("vllm", replicas: 6)
            rig.kubelet()
            rig.signals.set([.value(5)])
            try await RealClusterRig.eventually("six ready pods") {
                try await rig.admin.listAll(DynamicObject.self, .pods, namespace: "inference").items
                    .filter(RealClusterRig.isReady).count == 6
            }
            try rig.startController()
            try rig.apply(
                Self.spec.replacingOccurrences(
                    of: "policies: [{type: Pods, value: 1, period: 3s}]",
                    with: "policies: [{type: Pods, value: 1, period: 20s}]"))
            try await RealClusterRig.eventually("the budget's failure and six ready replicas in status") {
                let status = try await rig.policy("llama").status
                return status?.conditions?.first { $0.type == "DisruptionBudget" }?.reason == "ApplyFailed"
                    && status?.readyReplicas == 6
            }
            let status = try #require(try await rig.policy("llama").status)
            let budget = try #require(status.conditions?.first { $0.type == "DisruptionBudget" })
            #expect(budget.status == .false)
            #expect(budget.message.contains("Forbidden"), "\(budget.message)")
            #expect(status.desiredReplicas == 6)
            #expect(status.conditions?.first { $0.type == "Ready" }?.status == .true)
            #expect(try await rig.budget("llama") == nil)

            // Every round fails at the budget and is retried within a second; one pod per 20 s must hold anyway.
            rig.signals.set([.value(2.5)])
            try await RealClusterRig.eventually("the first step down") { try await rig.replicas(of: "vllm") == 5 }
            let firstStep = Date()
            try await Task.sleep(for: .seconds(8))
            // Only meaningful while the 20 s period has not passed: a very slow machine makes it vacuous, not failed.
            if Date().timeIntervalSince(firstStep) < 19 {
                #expect(try await rig.replicas(of: "vllm") == 5, "a retry forgot the scale it made")
            }
            #expect(try await rig.policy("llama").status?.lastScaleTime != nil, "the scale is in status")
            let refused = try rig.controllerRequests().filter { $0.code == 403 }
            #expect(!refused.isEmpty)
            #expect(refused.allSatisfy { $0.resource == "poddisruptionbudgets" }, "\(refused.map(\.requestURI))")
        }
    }

    /// The ClusterRole as it was shipped before: budgets get, patch and delete, no create.
    static func withoutBudgetCreate(_ rendered: String) -> String {
        let granted = "  - poddisruptionbudgets\n  verbs:\n  - get\n  - create\n"
        precondition(rendered.contains(granted), "config/rbac no longer renders as this test expects")
        return rendered.replacingOccurrences(of: granted, with: "  - poddisruptionbudgets\n  verbs:\n  - get\n")
    }

    /// A 30 s outage of the API server with its history compacted every 10 s: once it is back, the policy it already
    /// managed is reconciled again within its polling interval (not at the end of a backoff grown meanwhile). Without
    /// leader election: with it, an outage longer than the renew deadline ends the process (leadership lost, as
    /// controller-runtime does), and the restarted one lists and reconciles everything anyway.
    @Test func anAPIServerRestartIsSurvived() async throws {
        let rig = try await RealClusterRig(extraAPIServerArgs: ["--etcd-compaction-interval=10s"])
        try await rig.run { rig in
            try rig.deployment("vllm", replicas: 1)
            rig.kubelet()
            rig.signals.set([.value(15)])
            try rig.startController(leaderElect: false)
            try rig.apply(
                Self.spec.replacingOccurrences(of: "pollingInterval: 1s", with: "pollingInterval: 5s")
                    .replacingOccurrences(of: "minReplicas: 0", with: "minReplicas: 1")
                    .replacingOccurrences(of: "  scaleToZero: {idleFor: 0s}\n", with: "")
                    .replacingOccurrences(
                        of: "policies: [{type: Pods, value: 1, period: 3s}]",
                        with: "policies: [{type: Percent, value: 100, period: 1s}]"
                    )
                    .replacingOccurrences(of: "  disruptionBudget: {maxUnavailable: 1}", with: ""))
            try await RealClusterRig.eventually("a scale-up") { try await rig.replicas(of: "vllm") == 3 }

            try await rig.plane.stopAPIServer()
            rig.signals.set([.value(0)])
            try await Task.sleep(for: .seconds(30))
            // The controller manager may not survive the outage (`controllerManagerIsRunning`): this test needs only
            // the API server.
            try await rig.plane.startAPIServer()
            let back = Date()
            try await RealClusterRig.eventually("the scale-down after the restart", within: 120) {
                try await rig.replicas(of: "vllm") == 1
            }
            // Within a few polling intervals (5 s) of the server's return, not after a grown backoff (the field saw
            // 150 s and more): 45 s leaves room for its first seconds of 403s and 429s and for a loaded machine.
            #expect(Date().timeIntervalSince(back) < 45)
        }
    }

    /// Shadow mode next to a live HPA: it decides and reports, and the audit log shows it wrote nothing but the
    /// policy's own status and Events (no `/scale`, no budget, no pod annotation).
    @Test func aShadowWritesNothingButItsOwnStatus() async throws {
        let rig = try await RealClusterRig()
        try await rig.run { rig in
            try rig.deployment("vllm", replicas: 2)
            rig.kubelet()
            rig.signals.set([.value(15)])
            rig.signals.running.withLock { $0 = ["vllm": 0] }
            try rig.apply(
                "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: hpa, namespace: inference}\n"
                    + "spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: vllm}, minReplicas: 2, "
                    + "maxReplicas: 3}")
            try rig.startController()
            try rig.apply(Self.spec.replacingOccurrences(of: "spec:\n", with: "spec:\n  mode: Shadow\n"))
            try await RealClusterRig.eventually("the shadow's decision in status") {
                let status = try await rig.policy("llama").status
                return status?.desiredReplicas == 6 && status?.conditions?.first(.shadow) != nil
            }
            // Some more rounds, and a fall of the load that a live policy would follow down.
            rig.signals.set([.value(1)])
            try await Task.sleep(for: .seconds(6))
            #expect(try await rig.replicas(of: "vllm") == 2)
            #expect(try await rig.budget("llama") == nil)
            let writes = try rig.controllerRequests().filter {
                !["get", "list", "watch"].contains($0.verb) && $0.resource != "leases"
            }
            let allowed: Set = ["inferenceautoscalepolicies/status", "events"]
            let other = writes.filter {
                !allowed.contains(($0.resource ?? "") + ($0.subresource.map { "/\($0)" } ?? ""))
            }
            #expect(other.isEmpty, "\(other.map { "\($0.verb) \($0.requestURI)" })")
            #expect(writes.contains { $0.subresource == "status" })
        }
    }

    /// A ResourceQuota on GPUs, counted by kube-controller-manager's quota controller: the count stops at what it
    /// leaves room for, and status and an Event say which quota; raised, the count follows the load again.
    @Test func aGPUQuotaCapsTheCountAndSaysWhich() async throws {
        let rig = try await RealClusterRig()
        try await rig.run { rig in
            try rig.apply(
                """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: vllm, namespace: inference}
                spec:
                  replicas: 2
                  selector: {matchLabels: {app: vllm}}
                  template:
                    metadata: {labels: {app: vllm}}
                    spec: {containers: [{name: engine, image: vllm/vllm-openai, resources: {limits: {nvidia.com/gpu: 1}}}]}
                """)
            let quota = { (hard: Int) in
                "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: gpu-quota, namespace: inference}\n"
                    + "spec: {hard: {requests.nvidia.com/gpu: \"\(hard)\"}}"
            }
            try rig.apply(quota(4))
            rig.kubelet()
            rig.signals.set([.value(15)])
            try await RealClusterRig.eventually("two ready pods counted by the quota") {
                let pods = try await rig.admin.listAll(DynamicObject.self, .pods, namespace: "inference").items
                let counted = try await rig.admin.get(
                    DynamicObject.self, .resourceQuotas, namespace: "inference", name: "gpu-quota")
                return pods.filter(RealClusterRig.isReady).count == 2
                    && counted["status", "used", "requests.nvidia.com/gpu"] == .string("2")
            }
            try rig.startController()
            try rig.apply(Self.spec)
            // The queue asks for 6; 4 GPUs with 2 used leave room for 4.
            try await RealClusterRig.eventually("the quota's cap") {
                try await rig.policy("llama").status?.limitedBy == "quota:gpu-quota"
            }
            #expect(try await rig.replicas(of: "vllm") == 4)
            let limited = try #require(try await rig.condition("ScalingLimited", of: "llama"))
            #expect(limited.reason == "ResourceQuota")
            #expect(limited.message.contains("requests.nvidia.com/gpu"), "\(limited.message)")
            try await RealClusterRig.eventually("the LimitedByQuota event") {
                try await rig.admin.listAll(DynamicObject.self, .events, namespace: "inference").items
                    .contains { $0["reason"] == .string("LimitedByQuota") }
            }
            try rig.apply(quota(8))
            try await RealClusterRig.eventually("the count past the old cap") {
                try await rig.replicas(of: "vllm") == 6
            }
        }
    }

    /// A budget the user made under the policy's name is neither taken over nor deleted: `DisruptionBudget=False`
    /// `NotOwned` says so, and scaling goes on.
    @Test func aBudgetTheUserOwnsIsLeftAlone() async throws {
        let rig = try await RealClusterRig()
        try await rig.run { rig in
            try rig.deployment("vllm", replicas: 2)
            try rig.apply(
                "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: llama, namespace: inference}\n"
                    + "spec: {maxUnavailable: 0, selector: {matchLabels: {app: vllm}}}")
            rig.kubelet()
            rig.signals.set([.value(15)])
            try rig.startController()
            try rig.apply(Self.spec)
            try await RealClusterRig.eventually("scaling goes on") { try await rig.replicas(of: "vllm") == 6 }
            try await RealClusterRig.eventually("the budget not owned, in status") {
                try await rig.condition("DisruptionBudget", of: "llama")?.reason == "NotOwned"
            }
            let budget = try #require(try await rig.budget("llama"))
            #expect(budget["spec", "maxUnavailable"] == .number(0))
            #expect(budget["metadata", "ownerReferences"] == nil)
            // Going to zero leaves it too.
            rig.signals.set([.value(0)])
            try await RealClusterRig.eventually("zero replicas") { try await rig.replicas(of: "vllm") == 0 }
            #expect(try await rig.budget("llama") != nil)
        }
    }

    /// 20 policies whose pods never become ready, some without metrics, some with values that move: once they have
    /// settled, rounds write nothing.
    @Test func idlePoliciesMakeNoSteadyStateWrites() async throws {
        try await RealClusterRig().run { rig in
            let count = 20
            for index in 0..<count {
                try rig.deployment("m\(index)", replicas: 1)
                try rig.apply(
                    """
                    apiVersion: autoscaling.inference.dev/v1alpha1
                    kind: InferenceAutoscalePolicy
                    metadata: {name: p\(index), namespace: inference}
                    spec:
                      targetRef: {apiVersion: apps/v1, kind: Deployment, name: m\(index)}
                      minReplicas: 1
                      maxReplicas: 4
                      pollingInterval: 1s
                      signals: [{type: QueueDepth, target: 5}]
                      disruptionBudget: {maxUnavailable: 1}
                    """)
            }
            // Half without series (pods not ready export nothing), half with values that move a little.
            for index in 0..<count where index % 2 == 1 { rig.signals.set([.value(0.1)], for: "p\(index)") }
            rig.signals.set([.missing("no series matched the target's pods")])
            try rig.startController()
            try await RealClusterRig.eventually("every policy's status") {
                let policies = try await rig.admin.listAll(
                    InferenceAutoscalePolicy.self, .inferenceAutoscalePolicies, namespace: "inference"
                ).items
                return policies.count == count && policies.allSatisfy { $0.status?.observedGeneration != nil }
            }
            // The failure count stops at its limit after ten rounds; then values move a little every round.
            try await Task.sleep(for: .seconds(15))
            let before = try rig.controllerRequests().count
            for round in 0..<30 {
                for index in 0..<count where index % 2 == 1 {
                    rig.signals.set([.value(0.1 + Double((round + index) % 4) / 10)], for: "p\(index)")
                }
                try await Task.sleep(for: .seconds(1))
            }
            let writes = try rig.controllerRequests().dropFirst(before).filter {
                !["get", "list", "watch"].contains($0.verb) && $0.resource != "leases"
            }
            #expect(writes.isEmpty, "\(writes.map { "\($0.verb) \($0.requestURI)" })")
        }
    }
}
