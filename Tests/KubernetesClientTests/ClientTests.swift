import Foundation
import KubernetesModel
import KubernetesTestServer
import Testing

@testable import KubernetesClient

/// The client against the test API server, over real HTTP and TLS.
@Suite(.timeLimit(.minutes(1))) struct ClientTests {
    @Test func crudOverTLS() async throws {
        try await withCluster { cluster in
            let client = cluster.client()
            let created = try await client.create(deployment("vllm", replicas: 2), .deployments, namespace: "inference")
            #expect(created.metadata.uid != nil)
            #expect(created.metadata.generation == 1)
            let fetched = try await client.get(DynamicObject.self, .deployments, namespace: "inference", name: "vllm")
            #expect(fetched["spec", "replicas"] == .number(2))

            // Optimistic concurrency: a write from a stale read is refused with 409.
            var stale = fetched
            var current = fetched
            current.json = current.json.setting(.number(3), at: ["spec", "replicas"])
            let updated = try await client.update(current, .deployments, namespace: "inference", name: "vllm")
            #expect(updated.metadata.generation == 2)
            stale.json = stale.json.setting(.number(5), at: ["spec", "replicas"])
            let conflict = await #expect(throws: KubernetesError.self) {
                try await client.update(stale, .deployments, namespace: "inference", name: "vllm")
            }
            #expect(conflict?.isConflict == true)

            let duplicate = await #expect(throws: KubernetesError.self) {
                try await client.create(deployment("vllm", replicas: 1), .deployments, namespace: "inference")
            }
            #expect(duplicate?.isAlreadyExists == true)

            try await client.delete(.deployments, namespace: "inference", name: "vllm")
            let missing = await #expect(throws: KubernetesError.self) {
                try await client.get(DynamicObject.self, .deployments, namespace: "inference", name: "vllm")
            }
            #expect(missing?.isNotFound == true)
            #expect(missing?.reason == "NotFound")
        }
    }

    @Test func everyRequestCarriesTheUserAgent() async throws {
        try await withCluster { cluster in
            _ = try await cluster.client().list(DynamicObject.self, .pods, namespace: "default")
            #expect(cluster.server.requests.last?.userAgent == "inference-autoscaler/\(AutoscalerVersion.current)")
        }
    }

    @Test func listsPageWithContinueTokensAndFilterByLabel() async throws {
        try await withCluster { cluster in
            let client = cluster.client()
            for index in 0..<25 {
                _ = try await client.create(
                    pod("p\(index)", labels: ["app": index % 2 == 0 ? "even" : "odd"]), .pods, namespace: "a")
            }
            let before = cluster.server.requests.count
            let all = try await client.listAll(DynamicObject.self, .pods, namespace: "a", pageSize: 10)
            #expect(all.items.count == 25)
            #expect(Set(all.items.compactMap(\.metadata.name)).count == 25)
            #expect(cluster.server.requests.count - before == 3)
            let even = try await client.listAll(DynamicObject.self, .pods, namespace: "a", labelSelector: "app=even")
            #expect(even.items.count == 13)
            let odd = try await client.listAll(DynamicObject.self, .pods, namespace: "a", labelSelector: "app in (odd)")
            #expect(odd.items.count == 12)
        }
    }

    @Test func patchesMergeJSONAndApply() async throws {
        try await withCluster { cluster in
            let client = cluster.client()
            _ = try await client.create(deployment("vllm", replicas: 1), .deployments, namespace: "inference")
            let merged = try await client.patch(
                DynamicObject.self, .deployments, namespace: "inference", name: "vllm",
                .merge(.object(["metadata": .object(["labels": .object(["tier": .string("gpu")])])])))
            #expect(merged["metadata", "labels", "tier"] == .string("gpu"))
            let patched = try await client.patch(
                DynamicObject.self, .deployments, namespace: "inference", name: "vllm",
                .json([.object(["op": .string("replace"), "path": .string("/spec/replicas"), "value": .number(4)])]))
            #expect(patched["spec", "replicas"] == .number(4))

            let budget: JSONValue = .object([
                "apiVersion": .string("policy/v1"), "kind": .string("PodDisruptionBudget"),
                "metadata": .object(["name": .string("vllm"), "namespace": .string("inference")]),
                "spec": .object([
                    "maxUnavailable": .number(1),
                    "selector": .object(["matchLabels": .object(["app": .string("vllm")])]),
                ]),
            ])
            let applied = try await client.patch(
                DynamicObject.self, .podDisruptionBudgets, namespace: "inference", name: "vllm",
                .apply(budget, fieldManager: "inference-autoscaler", force: true))
            #expect(applied["spec", "maxUnavailable"] == .number(1))
            let reapplied = try await client.patch(
                DynamicObject.self, .podDisruptionBudgets, namespace: "inference", name: "vllm",
                .apply(
                    budget.setting(.number(2), at: ["spec", "maxUnavailable"]), fieldManager: "inference-autoscaler",
                    force: true))
            #expect(reapplied["spec", "maxUnavailable"] == .number(2))
            let request = cluster.server.requests.last { $0.method == "PATCH" }
            #expect(request?.contentType == "application/apply-patch+yaml")
            #expect(request?.query["fieldManager"] == "inference-autoscaler")
        }
    }

    @Test func scaleAndStatusSubresources() async throws {
        try await withCluster { cluster in
            let client = cluster.client()
            _ = try await client.create(deployment("vllm", replicas: 2), .deployments, namespace: "inference")
            let scale = try await client.scale(.deployments, namespace: "inference", name: "vllm")
            #expect(scale.desiredReplicas == 2)
            #expect(scale.status?.selector == "app=vllm")
            let scaled = try await client.setScale(.deployments, namespace: "inference", name: "vllm", replicas: 5)
            #expect(scaled.desiredReplicas == 5)
            let workload = try await client.get(DynamicObject.self, .deployments, namespace: "inference", name: "vllm")
            #expect(workload["spec", "replicas"] == .number(5))
            #expect(workload.metadata.generation == 2)

            let status = try await client.patchStatus(
                DynamicObject.self, .deployments, namespace: "inference", name: "vllm",
                status: .object(["replicas": .number(5), "readyReplicas": .number(3)]))
            #expect(status["status", "readyReplicas"] == .number(3))
            #expect(status.metadata.generation == 2)
            // The main resource ignores status; /status ignores spec.
            let sneaky = try await client.patch(
                DynamicObject.self, .deployments, namespace: "inference", name: "vllm",
                .merge(.object(["status": .object(["readyReplicas": .number(99)])])))
            #expect(sneaky["status", "readyReplicas"] == .number(3))
        }
    }

    @Test func discoveryResolvesTargetsAndTheirScale() async throws {
        try await withCluster { cluster in
            let client = cluster.client()
            let deployments = try await client.resolve(apiVersion: "apps/v1", kind: "Deployment")
            #expect(deployments.resource == .deployments)
            #expect(deployments.scalable)
            let pods = try await client.resolve(apiVersion: "v1", kind: "Pod")
            #expect(!pods.scalable)
            let lws = try await client.resolve(apiVersion: "leaderworkerset.x-k8s.io/v1", kind: "LeaderWorkerSet")
            #expect(lws.scalable)
            #expect(lws.resource.name == "leaderworkersets")
            let unknown = await #expect(throws: KubernetesError.self) {
                try await client.resolve(apiVersion: "apps/v1", kind: "Deploymnet")
            }
            #expect(unknown?.message.contains("StatefulSet") == true)
        }
    }

    @Test func aForbiddenRequestNamesTheVerbAndResource() async throws {
        try await withCluster { cluster in
            cluster.server.forbid(verb: "patch", resource: "deployments", subresource: "scale")
            _ = try await cluster.client().create(deployment("vllm", replicas: 1), .deployments, namespace: "inference")
            let error = await #expect(throws: KubernetesError.self) {
                try await cluster.client().setScale(.deployments, namespace: "inference", name: "vllm", replicas: 3)
            }
            #expect(error?.code == 403)
            #expect(error?.message.contains("patch on deployments.apps/scale") == true, "\(String(describing: error))")
        }
    }

    @Test func aWrongCAFailsClosed() async throws {
        try await withCluster { cluster in
            try await withCluster { other in
                // Trusting another cluster's CA: the handshake must fail, not fall back to anything.
                let client = cluster.client(trust: .pem(Data(other.server.caCertificatePEM.utf8)))
                let error = await #expect(throws: HTTPClientError.self) {
                    try await client.list(DynamicObject.self, .pods, namespace: "default")
                }
                #expect(error?.code == .tls)
                // No CA at all: the system store does not know the test CA either.
                let bare = cluster.client(trust: .systemDefault)
                let untrusted = await #expect(throws: HTTPClientError.self) {
                    try await bare.list(DynamicObject.self, .pods, namespace: "default")
                }
                #expect(untrusted?.code == .tls)
                #expect(untrusted?.message.contains("certificate") == true, "\(String(describing: untrusted))")
                // Explicitly insecure: connects.
                let insecure = cluster.client(trust: .systemDefault, insecure: true)
                _ = try await insecure.list(DynamicObject.self, .pods, namespace: "default")
            }
        }
    }

    @Test func aStormOf429sIsRetriedWithinTheRateLimit() async throws {
        try await withCluster { cluster in
            cluster.server.failNextRequests(4, status: 429, retryAfterSeconds: 0)
            let client = cluster.client(retry: RetryPolicy(maxAttempts: 6, baseDelay: 0.01, maxDelay: 0.05))
            let before = cluster.server.requests.count
            _ = try await client.list(DynamicObject.self, .pods, namespace: "default")
            #expect(cluster.server.requests.count - before == 5)
        }
    }

    @Test func serverErrorsAreRetriedOnlyForIdempotentRequests() async throws {
        try await withCluster { cluster in
            let client = cluster.client(retry: RetryPolicy(maxAttempts: 3, baseDelay: 0.01, maxDelay: 0.05))
            cluster.server.failNextRequests(2, status: 503, retryAfterSeconds: nil)
            _ = try await client.list(DynamicObject.self, .pods, namespace: "default")
            cluster.server.failNextRequests(1, status: 500, retryAfterSeconds: nil)
            let error = await #expect(throws: KubernetesError.self) {
                try await client.create(pod("once", labels: [:]), .pods, namespace: "default")
            }
            #expect(error?.code == 500)
            cluster.server.failNextRequests(5, status: 503, retryAfterSeconds: nil)
            let exhausted = await #expect(throws: KubernetesError.self) {
                try await client.list(DynamicObject.self, .pods, namespace: "default")
            }
            #expect(exhausted?.code == 503)
        }
    }

    @Test func aRotatedTokenIsReadAgainWithoutAFailedRequest() async throws {
        try await withCluster { cluster in
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID().uuidString)")
            try "first-token".write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            cluster.server.setAcceptedTokens(["first-token"])
            let client = cluster.client(token: FileToken(path: file.path))
            _ = try await client.list(DynamicObject.self, .pods, namespace: "default")
            // The token rotates on disk and on the server.
            try "second-token".write(to: file, atomically: true, encoding: .utf8)
            cluster.server.setAcceptedTokens(["second-token"])
            _ = try await client.list(DynamicObject.self, .pods, namespace: "default")
            // Server rotates first: the 401 makes the client read the file again.
            cluster.server.setAcceptedTokens(["third-token"])
            try "third-token".write(to: file, atomically: true, encoding: .utf8)
            _ = try await client.list(DynamicObject.self, .pods, namespace: "default")
            let wrong = cluster.client(token: StaticToken("nope"))
            let error = await #expect(throws: KubernetesError.self) {
                try await wrong.list(DynamicObject.self, .pods, namespace: "default")
            }
            #expect(error?.isUnauthorized == true)
        }
    }

    @Test func cancellingTheTaskAbortsTheTransfer() async throws {
        try await withCluster { cluster in
            cluster.server.setResponseDelay(60)
            let client = cluster.client()
            let task = Task { try await client.list(DynamicObject.self, .pods, namespace: "default") }
            // Cancelled once the server has the request, so the transfer is under way.
            let deadline = ContinuousClock.now + .seconds(30)
            while !cluster.server.requests.contains(where: { $0.path == "/api/v1/namespaces/default/pods" }) {
                try #require(ContinuousClock.now < deadline, "the request never reached the server")
                try await Task.sleep(for: .milliseconds(20))
            }
            let cancelled = ContinuousClock.now
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            // The answer is due 60 s after the request: an aborted transfer ends long before, however loaded.
            #expect(cancelled.duration(to: .now) < .seconds(30))
            cluster.server.setResponseDelay(0)
        }
    }

    @Test func aSlowAnswerTimesOut() async throws {
        try await withCluster { cluster in
            // Due in 30 s: only the 0.5 s request timeout can end the request first, on a loaded machine too.
            cluster.server.setResponseDelay(30)
            let client = cluster.client(requestTimeout: 0.5, retry: .none)
            let error = await #expect(throws: HTTPClientError.self) {
                try await client.list(DynamicObject.self, .pods, namespace: "default")
            }
            #expect(error?.code == .timedOut)
            cluster.server.setResponseDelay(0)
        }
    }

    @Test func theRateLimiterSpacesRequests() async throws {
        let limiter = RateLimiter(.init(qps: 20, burst: 2))
        let started = ContinuousClock.now
        for _ in 0..<6 { try await limiter.acquire() }
        // Two at once, then four at 20 per second: at least 0.2 s.
        #expect(started.duration(to: .now) >= .milliseconds(190))
    }
}

extension ClientTests {
    @Test func connectionsAreReused() async throws {
        try await withCluster { cluster in
            let client = cluster.client()
            let first = try await client.send("GET", "/api/v1/namespaces/default/pods", verb: "list")
            let second = try await client.send("GET", "/api/v1/namespaces/default/pods", verb: "list")
            #expect(first.newConnection)
            #expect(!second.newConnection)
        }
    }
}

extension ClientTests {
    @Test func aKubeconfigWithAnExecPluginReachesTheServer() async throws {
        try await withCluster { cluster in
            let fixtures = try ConfigFixtures()
            let credential =
                #"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-token"}}"#
            cluster.server.setAcceptedTokens(["exec-token"])
            let kubeconfig = """
                apiVersion: v1
                kind: Config
                clusters:
                - name: test
                  cluster:
                    server: \(cluster.server.url.absoluteString)
                    certificate-authority-data: \(Data(cluster.server.caCertificatePEM.utf8).base64EncodedString())
                users:
                - name: plugin
                  user:
                    exec:
                      apiVersion: client.authentication.k8s.io/v1
                      command: ./plugins/respond.sh
                      interactiveMode: Never
                      env:
                      - name: RESPONSE
                        value: '\(credential)'
                contexts:
                - name: test
                  context: {cluster: test, user: plugin, namespace: inference}
                current-context: test
                """
            let path = try fixtures.write("exec-kubeconfig.yaml", kubeconfig)
            let configuration = try ClusterConfigurationLoader.kubeconfig(
                paths: [path], context: nil, environment: execPluginTestEnvironment)
            #expect(configuration.namespace == "inference")
            let client = KubernetesAPIClient(configuration: configuration)
            let pods = try await client.list(DynamicObject.self, .pods, namespace: configuration.namespace)
            #expect(pods.items.isEmpty)
        }
    }
}
