import Foundation
import KubernetesTestServer
import Testing

@Suite("TLS, authentication, discovery and fault injection")
struct TransportTests {
    @Test func tlsWorksWithTheCAAndFailsWithoutIt() async throws {
        try await withServer { server, curl in
            let trusted = try await curl("GET", "/healthz")
            #expect(trusted.exitCode == 0)
            #expect(trusted.status == 200)
            #expect(trusted.text == "ok")

            let byName = try await curl("GET", "/readyz", host: "localhost")
            #expect(byName.status == 200)

            let untrusted = try await curl("GET", "/healthz", trustCA: false)
            #expect(untrusted.exitCode == 60)  // CURLE_PEER_FAILED_VERIFICATION
            #expect(untrusted.status == 0)
            #expect(server.caCertificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----"))
        }
    }

    @Test func wrongTokenAndRotatedTokenGet401() async throws {
        try await withServer { server, curl in
            let wrong = try await curl("GET", "/api/v1/namespaces/default/pods", token: "nope")
            #expect(wrong.status == 401)
            #expect(wrong.json?.at("reason")?.stringValue == "Unauthorized")
            #expect(wrong.json?.at("kind")?.stringValue == "Status")
            #expect(wrong.json?.at("code")?.int == 401)

            let missing = try await curl("GET", "/livez", token: .some(nil))
            #expect(missing.status == 401)

            server.setAcceptedTokens(["rotated"])
            #expect(try await curl("GET", "/api/v1/namespaces/default/pods").status == 401)
            #expect(try await curl("GET", "/api/v1/namespaces/default/pods", token: "rotated").status == 200)

            let recorded = server.requests
            #expect(recorded.count == 4)
            #expect(recorded.last?.hasAuthorization == true)
            #expect(recorded.last?.headers["authorization"] == "<redacted>")
            #expect(recorded.last?.userAgent == "kubernetes-test-server-tests/1.0")
            #expect(recorded.map(\.status) == [401, 401, 401, 200])
        }
    }

    @Test func discoveryDescribesGroupsResourcesAndSubresources() async throws {
        try await withServer { _, curl in
            let api = try await curl("GET", "/api")
            #expect(api.json?.at("kind")?.stringValue == "APIVersions")
            #expect(api.json?.at("versions.0")?.stringValue == "v1")

            let apis = try await curl("GET", "/apis")
            let groups = apis.json?.at("groups")
            #expect(apis.json?.at("kind")?.stringValue == "APIGroupList")
            if case .array(let list)? = groups {
                let apps = list.first { $0.at("name")?.stringValue == "apps" }
                #expect(apps?.at("preferredVersion.groupVersion")?.stringValue == "apps/v1")
                #expect(list.contains { $0.at("name")?.stringValue == "autoscaling.inference.dev" })
            } else {
                Issue.record("no groups")
            }

            let apps = try await curl("GET", "/apis/apps/v1")
            #expect(apps.json?.at("kind")?.stringValue == "APIResourceList")
            #expect(apps.json?.at("groupVersion")?.stringValue == "apps/v1")
            guard case .array(let resources)? = apps.json?.at("resources") else {
                Issue.record("no resources")
                return
            }
            let scale = resources.first { $0.at("name")?.stringValue == "deployments/scale" }
            #expect(scale?.at("group")?.stringValue == "autoscaling")
            #expect(scale?.at("version")?.stringValue == "v1")
            #expect(scale?.at("kind")?.stringValue == "Scale")
            #expect(resources.contains { $0.at("name")?.stringValue == "deployments/status" })
            let main = resources.first { $0.at("name")?.stringValue == "deployments" }
            #expect(main?.at("namespaced") == .bool(true))
            #expect(main?.at("kind")?.stringValue == "Deployment")

            let core = try await curl("GET", "/api/v1")
            #expect(core.json?.at("groupVersion")?.stringValue == "v1")

            let unknown = try await curl("GET", "/apis/nope.example.com/v1")
            #expect(unknown.status == 404)
            #expect(unknown.json?.at("reason")?.stringValue == "NotFound")
            #expect(try await curl("GET", "/apis/apps/v9").status == 404)
            #expect(try await curl("GET", "/apis/apps/v1/namespaces/default/widgets").status == 404)
        }
    }

    @Test func failNextRequestsAnswersWithStatusAndRetryAfter() async throws {
        try await withServer { server, curl in
            server.failNextRequests(2, status: 429, retryAfterSeconds: 3)
            let first = try await curl("GET", "/api/v1/namespaces/default/pods")
            #expect(first.status == 429)
            #expect(first.headers["retry-after"] == "3")
            #expect(first.json?.at("reason")?.stringValue == "TooManyRequests")
            #expect(first.json?.at("details.retryAfterSeconds")?.int == 3)
            #expect(try await curl("GET", "/healthz").status == 429)
            #expect(try await curl("GET", "/api/v1/namespaces/default/pods").status == 200)

            server.failNextRequests(1, status: 503)
            let unavailable = try await curl("GET", "/api/v1/namespaces/default/pods")
            #expect(unavailable.status == 503)
            #expect(unavailable.headers["retry-after"] == nil)
            #expect(unavailable.json?.at("reason")?.stringValue == "ServiceUnavailable")

            server.failNextRequests(1, status: 500)
            #expect(try await curl("GET", "/api/v1/pods").json?.at("reason")?.stringValue == "InternalError")

            // Authentication comes first: a bad token is 401 and does not use up an injected failure.
            server.failNextRequests(1, status: 503)
            #expect(try await curl("GET", "/healthz", token: "bad").status == 401)
            #expect(try await curl("GET", "/healthz").status == 503)
        }
    }

    @Test func responseDelayDelaysWithoutBlocking() async throws {
        try await withServer { server, curl in
            // Delayed: the answer takes at least the delay (a loaded machine only adds to it).
            server.setResponseDelay(1)
            let started = Date()
            #expect(try await curl("GET", "/healthz").status == 200)
            #expect(Date().timeIntervalSince(started) >= 1)

            // Without blocking: while one answer is held back for a minute, the server answers another request.
            server.setResponseDelay(60)
            let held = Task { try await curl("GET", "/livez", maxTime: 90) }
            let deadline = Date().addingTimeInterval(30)
            while !server.requests.contains(where: { $0.path == "/livez" }) {
                try #require(Date() < deadline, "the held request never arrived")
                try await Task.sleep(for: .milliseconds(20))
            }
            server.setResponseDelay(0)
            #expect(try await curl("GET", "/healthz").status == 200)
            // Stopping the server closes the held request's connection: its answer, due a minute after it arrived,
            // had not gone out while the other was answered.
            try await server.stop()
            let unanswered = try await held.value
            #expect(unanswered.status == 0, "\(unanswered.exitCode) \(unanswered.stderr)")
        }
    }

    @Test func forbidDeniesOneVerbOnOneResource() async throws {
        try await withServer { server, curl in
            try server.create(deployment("web"), resource: .deployments)
            server.forbid(verb: "patch", resource: "deployments", subresource: "scale")
            let denied = try await curl(
                "PATCH",
                "/apis/apps/v1/namespaces/default/deployments/web/scale",
                body: #"{"spec":{"replicas":3}}"#,
                contentType: "application/merge-patch+json"
            )
            #expect(denied.status == 403)
            #expect(denied.json?.at("reason")?.stringValue == "Forbidden")
            #expect(
                denied.json?.at("message")?.stringValue
                    == "deployments.apps \"web\" is forbidden: User \"system:serviceaccount:default:test\" cannot "
                    + "patch resource \"deployments/scale\" in API group \"apps\" in the namespace \"default\""
            )
            #expect(try await curl("GET", "/apis/apps/v1/namespaces/default/deployments/web/scale").status == 200)

            server.forbid(verb: "list", resource: "pods")
            #expect(try await curl("GET", "/api/v1/pods").status == 403)
            #expect(try await curl("GET", "/api/v1/pods?watch=1&timeoutSeconds=1").status == 200)
        }
    }

    @Test func kubeconfigCarriesServerCAAndToken() async throws {
        try await withServer { server, _ in
            let config = server.kubeconfig(token: "abc", namespace: "inference")
            #expect(config.contains("server: \"\(server.url.absoluteString)\""))
            #expect(
                config.contains(
                    "certificate-authority-data: \(Data(server.caCertificatePEM.utf8).base64EncodedString())"
                )
            )
            #expect(config.contains("token: \"abc\""))
            #expect(config.contains("namespace: \"inference\""))
            #expect(config.contains("current-context: test"))
            #expect(server.url.absoluteString.hasPrefix("https://127.0.0.1:"))
        }
    }

    @Test func keepAliveServesSeveralRequestsOnOneConnection() async throws {
        try await withServer { server, curl in
            // Two URLs in one curl run reuse the connection; both must be answered.
            let result = try await curl("GET", "/healthz", extra: ["-v", "\(server.url.absoluteString)/livez"])
            #expect(result.exitCode == 0)
            #expect(result.stderr.contains("Re-using existing connection"))
            #expect(server.requests.map(\.path) == ["/livez", "/healthz"])
        }
    }

    @Test func expectContinueIsAnswered() async throws {
        try await withServer { _, curl in
            let big = String(repeating: "x", count: 20_000)
            let configMap =
                #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"blob":""#
                + big + #""}}"#
            let result = try await curl(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                body: configMap,
                contentType: "application/json",
                maxTime: 60,
                // curl holds the body back until the 100 arrives, for up to 10 minutes: past its 60 s --max-time, so
                // only the server's 100 can get the body sent and the ConfigMap created.
                extra: ["-v", "-H", "Expect: 100-continue", "--expect100-timeout", "600"]
            )
            #expect(result.status == 201, "\(result.exitCode) \(result.stderr)")
            #expect(result.stderr.contains("HTTP/1.1 100 Continue"))
            #expect(result.json?.at("data.blob")?.stringValue?.count == 20_000)
        }
    }

    @Test func stopClosesOpenWatches() async throws {
        let server = try await TestAPIServer.start()
        let curl = Curl(server: server)
        async let watch = curl("GET", "/api/v1/namespaces/default/pods?watch=true", maxTime: 60)
        try await waitForWatches(server)
        try await server.stop()
        let result = try await watch
        #expect(result.status == 200)
        // A clean end of the chunked body, by the server: the watch has no timeout, and curl's own --max-time would
        // have ended it with 28.
        #expect(result.exitCode == 0, "\(result.exitCode) \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: server.caCertificatePath))
    }
}
