import Foundation
import KubernetesModel
import KubernetesTestServer
import PolicyFiles
import Testing

/// `convert` as a user runs it: policies on standard output that `validate` accepts, problems on standard error.
@Suite struct ConvertCommandTests {
    static let migrationFixtures = CommandLineTests.packageRoot.appendingPathComponent("Tests/MigrationTests/Fixtures")

    @Test func theBlogPostsObjectsConvertToPoliciesThatValidate() throws {
        let files = ["queue-depth.yaml", "kv-pressure.yaml", "business-hours.yaml", "hpa-queue.yaml"].map {
            Self.migrationFixtures.appendingPathComponent($0).path
        }
        let converted = try CommandLineTests.run(["convert"] + files)
        #expect(converted.status == 0, "\(converted.stderr)")
        #expect(converted.stdout.components(separatedBy: "\n---\n").count == 4)
        #expect(converted.stdout.contains("# not carried over:\n#   spec.triggers[0].metadata.metricName"))

        let output = FileManager.default.temporaryDirectory.appendingPathComponent("converted-\(UUID()).yaml")
        defer { try? FileManager.default.removeItem(at: output) }
        try Data(converted.stdout.utf8).write(to: output)
        let validated = try CommandLineTests.run(["validate", output.path])
        #expect(validated.status == 0, "\(validated.stdout)")
        #expect(validated.stdout.components(separatedBy: ": valid").count - 1 == 4)
    }

    @Test func aConversionThatCannotBeValidExitsOneWithTheViolation() throws {
        // A cron floor above maxReplicaCount: KEDA clamps it silently; a policy says it is wrong.
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("cron-\(UUID()).yaml")
        defer { try? FileManager.default.removeItem(at: input) }
        try Data(
            """
            apiVersion: keda.sh/v1alpha1
            kind: ScaledObject
            metadata: {name: c, namespace: n}
            spec:
              scaleTargetRef: {name: d}
              minReplicaCount: 1
              maxReplicaCount: 2
              triggers:
              - type: cron
                metadata: {timezone: Europe/Amsterdam, start: "0 8 * * 1-5", end: "0 18 * * 1-5", desiredReplicas: "5"}
            """.utf8
        ).write(to: input)
        let run = try CommandLineTests.run(["convert", input.path])
        #expect(run.status == 1)
        #expect(run.stderr.contains("ScaledObject n/c: spec.schedules[0].minReplicas"), "\(run.stderr)")
        #expect(run.stdout.contains("kind: InferenceAutoscalePolicy"))
    }

    @Test func aFileWithNothingToConvertExitsTwo() throws {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("cm-\(UUID()).yaml")
        defer { try? FileManager.default.removeItem(at: input) }
        try Data("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n".utf8).write(to: input)
        let run = try CommandLineTests.run(["convert", input.path])
        #expect(run.status == 2)
        #expect(run.stderr.contains("skipped ConfigMap default/x"))
    }
}

/// `convert --from-cluster` against the test API server, which serves KEDA's CRDs as the real one does.
@Suite struct ConvertFromClusterTests {
    static func json(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    static func definition(_ plural: String, _ kind: String) -> String {
        #"{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"\#(plural).keda.sh"},"spec":{"group":"keda.sh","scope":"Namespaced","names":{"plural":"\#(plural)","singular":"\#(kind.lowercased())","kind":"\#(kind)"},"versions":[{"name":"v1alpha1","served":true,"storage":true}]}}"#
    }

    @Test func theClustersScaledObjectsAndHPAsConvertWithTheirSecrets() async throws {
        let server = try await TestAPIServer.start(.init(initialNamespaces: ["default", "llm"]))
        defer { Task { try? await server.stop() } }
        try server.create(
            try Self.json(Self.definition("scaledobjects", "ScaledObject")), resource: .customResourceDefinitions)
        try server.create(
            try Self.json(Self.definition("triggerauthentications", "TriggerAuthentication")),
            resource: .customResourceDefinitions)
        try server.create(
            try Self.json(
                #"{"apiVersion":"keda.sh/v1alpha1","kind":"TriggerAuthentication","metadata":{"name":"prom","namespace":"llm"},"spec":{"secretTargetRef":[{"parameter":"bearerToken","name":"prom-token","key":"token"}]}}"#
            ),
            resource: .customResource(
                group: "keda.sh", version: "v1alpha1", resource: "triggerauthentications", kind: "TriggerAuthentication"
            ))
        try server.create(
            try Self.json(
                #"{"apiVersion":"keda.sh/v1alpha1","kind":"ScaledObject","metadata":{"name":"chat","namespace":"llm"},"spec":{"scaleTargetRef":{"name":"chat"},"minReplicaCount":1,"maxReplicaCount":6,"triggers":[{"type":"prometheus","authenticationRef":{"name":"prom"},"metadata":{"serverAddress":"https://prometheus:9090","query":"sum(sglang:num_queue_reqs)","threshold":"4"}}]}}"#
            ),
            resource: .customResource(
                group: "keda.sh", version: "v1alpha1", resource: "scaledobjects", kind: "ScaledObject"))
        try server.create(
            try Self.json(
                #"{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"embed","namespace":"llm"},"spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"embed"},"minReplicas":2,"maxReplicas":5,"metrics":[{"type":"Pods","pods":{"metric":{"name":"vllm_num_requests_running"},"target":{"type":"AverageValue","averageValue":"8"}}}]}}"#
            ),
            resource: .horizontalPodAutoscalers)
        let kubeconfig = FileManager.default.temporaryDirectory.appendingPathComponent("convert-\(UUID()).yaml")
        defer { try? FileManager.default.removeItem(at: kubeconfig) }
        try Data(server.kubeconfig(token: "test-token").utf8).write(to: kubeconfig)

        let run = try CommandLineTests.run([
            "convert", "--from-cluster", "--namespace", "llm", "--kubeconfig", kubeconfig.path,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let policies = try PolicyFiles.parse(run.stdout, file: "stdout").policies.compactMap(\.policy)
        #expect(policies.map(\.metadata.name) == ["chat", "embed"])
        #expect(policies.first?.spec?.engine == "sglang")
        #expect(
            policies.first?.spec?.prometheus?.bearerTokenSecretRef
                == SecretKeySelector(name: "prom-token", key: "token"))
        #expect(
            policies.last?.spec?.signals == [
                SignalSpec(type: "RunningRequests", target: .number(8), targetType: "AverageValue")
            ])
        // Only what was read is written: the server saw no write.
        #expect(server.objects(resource: .inferenceAutoscalePolicies).isEmpty)
    }

    @Test func withoutKEDAOnlyTheHPAsAreRead() async throws {
        let server = try await TestAPIServer.start()
        defer { Task { try? await server.stop() } }
        try server.create(
            try Self.json(
                #"{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"q","namespace":"default"},"spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"q"},"maxReplicas":3,"metrics":[{"type":"External","external":{"metric":{"name":"vllm:num_requests_waiting"},"target":{"type":"AverageValue","averageValue":"5"}}}]}}"#
            ),
            resource: .horizontalPodAutoscalers)
        let kubeconfig = FileManager.default.temporaryDirectory.appendingPathComponent("convert-\(UUID()).yaml")
        defer { try? FileManager.default.removeItem(at: kubeconfig) }
        try Data(server.kubeconfig(token: "test-token").utf8).write(to: kubeconfig)
        let run = try CommandLineTests.run(["convert", "--from-cluster", "--kubeconfig", kubeconfig.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("# Converted from HorizontalPodAutoscaler default/q."))
        #expect(run.stdout.contains("type: QueueDepth"))
    }
}
