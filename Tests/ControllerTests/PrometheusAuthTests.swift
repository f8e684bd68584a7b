import AutoscalerCore
import Foundation
import KubernetesClient
import KubernetesModel
import KubernetesTestServer
import MetricsFixture
import PrometheusTestSupport
import Signals
import Synchronization
import Testing

@testable import Controller

/// A real Prometheus behind its own `--web.config.file` (TLS with a required client certificate, basic auth), the
/// credentials in Secrets of the test API server, read by the controller's Secret reader.
@Suite(.serialized) struct PrometheusAuthTests {
    // bcrypt (cost 5) of the two passwords, as Prometheus' web configuration wants them.
    static let first = ("first-password-1", "$2b$05$xfgduBHAMpvSOJ70kUACB.Zj307IRG2Aph8SUSH1pS3.qZCXaVAkC")
    static let second = ("second-password-2", "$2b$05$GcHs5ggccvzrlxTAYuuqVe7.dnDcgA/tlafsQkNWZMNf72txNB8Ii")

    final class Rig: Sendable {
        let directory: URL
        let certificates: TestCertificates
        let exporter: FixtureExporter
        let prometheus: PrometheusServer
        let api: TestAPIServer
        let client: KubernetesAPIClient

        init() async throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("auth-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            certificates = try await TestCertificates.generate(in: directory)
            exporter = try await FixtureExporter.start()
            exporter.set(PodMetrics(namespace: "team-a", pod: "vllm-0", engine: .vllm, waiting: 7))
            prometheus = try await PrometheusServer.start(
                scraping: [exporter.address],
                web: .init(
                    certificateFile: certificates.serverCertificatePath, keyFile: certificates.serverKeyPath,
                    caFile: certificates.caCertificatePath, clientCAFile: certificates.caCertificatePath,
                    users: ["autoscaler": PrometheusAuthTests.first.1],
                    login: ("autoscaler", PrometheusAuthTests.first.0),
                    clientCertificate: (certificates.clientCertificatePath, certificates.clientKeyPath)))
            try await prometheus.waitForSeries("vllm:num_requests_waiting")
            api = try await TestAPIServer.start(.init(initialNamespaces: ["default", "team-a"]))
            client = KubernetesAPIClient(
                configuration: ClusterConfiguration(
                    server: api.url, tls: TLSSettings(caCertificatePEM: Data(api.caCertificatePEM.utf8)),
                    credentials: .token(StaticToken("test-token")), namespace: "team-a", source: "test"))
            try setSecret(password: PrometheusAuthTests.first.0, create: true)
        }

        func file(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

        func setSecret(password: String, create: Bool = false) throws {
            let data: [String: String] = [
                "username": "autoscaler", "password": password, "ca.crt": try file(certificates.caCertificatePath),
                "tls.crt": try file(certificates.clientCertificatePath),
                "tls.key": try file(certificates.clientKeyPath),
            ]
            let secret: JSONValue = .object([
                "apiVersion": .string("v1"), "kind": .string("Secret"),
                "metadata": .object(["name": .string("prometheus-auth"), "namespace": .string("team-a")]),
                "data": .object(data.mapValues { .string(Data($0.utf8).base64EncodedString()) }),
            ])
            if create {
                _ = try api.create(secret, resource: .secrets)
            } else {
                let current = api.object(resource: .secrets, namespace: "team-a", name: "prometheus-auth")!
                _ = try api.update(secret.setting(current["metadata"]!, at: ["metadata"]), resource: .secrets)
            }
        }

        func source(maxAge: Duration = .seconds(600)) -> PrometheusSignalSource {
            PrometheusSignalSource(defaultAddress: nil, secrets: APISecretReader(client: client), secretMaxAge: maxAge)
        }

        func stop() async throws {
            prometheus.stop()
            try await exporter.stop()
            try await api.stop()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    static func policy(_ prometheus: String) throws -> ResolvedPolicy {
        let json = """
            {"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy",
             "metadata":{"name":"llama","namespace":"team-a"},
             "spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"maxReplicas":4,
                     "pollingInterval":"1s","prometheus":\(prometheus),"signals":[{"type":"QueueDepth","target":5}]}}
            """
        return try PolicyValidator.resolve(JSONDecoder().decode(InferenceAutoscalePolicy.self, from: Data(json.utf8)))
            .get()
    }

    static func secured(_ address: URL, cert: Bool = true, secret: String = "prometheus-auth") -> String {
        let clientCertificate =
            cert
            ? #","certSecretRef":{"name":"\#(secret)","key":"tls.crt"},"keySecretRef":{"name":"\#(secret)","key":"tls.key"}"#
            : ""
        return """
            {"address":"\(address.absoluteString)",
             "basicAuth":{"usernameSecretRef":{"name":"\(secret)","key":"username"},
                          "passwordSecretRef":{"name":"\(secret)","key":"password"}},
             "tls":{"caSecretRef":{"name":"\(secret)","key":"ca.crt"}\(clientCertificate)}}
            """
    }

    static func withRig(_ body: (Rig) async throws -> Void) async throws {
        let rig = try await Rig()
        do {
            try await body(rig)
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }

    static func reason(_ samples: [SignalSample]) -> String? {
        if case .missing(let reason)? = samples.first { reason } else { nil }
    }

    @Test func basicAuthCAAndClientCertificateFromSecretsReadTheSignal() async throws {
        try await Self.withRig { rig in
            let source = rig.source()
            let samples = await source.samples(
                for: try Self.policy(Self.secured(rig.prometheus.url)), pods: ["vllm-0"], ready: ["vllm-0"], at: Date())
            #expect(samples == [.value(7)])

            // Without the client certificate the TLS handshake is refused; the reason says so and holds no secret.
            let noCertificate = await source.samples(
                for: try Self.policy(Self.secured(rig.prometheus.url, cert: false)), pods: ["vllm-0"],
                ready: ["vllm-0"], at: Date())
            let refused = try #require(Self.reason(noCertificate))
            #expect(!refused.contains(Self.first.0))

            let absent = await source.samples(
                for: try Self.policy(Self.secured(rig.prometheus.url, secret: "nope")), pods: ["vllm-0"],
                ready: ["vllm-0"], at: Date())
            #expect(Self.reason(absent)?.contains("cannot read Secret team-a/nope") == true)
            #expect(Self.reason(absent)?.contains("404") == true)
        }
    }

    @Test func aRotatedPasswordIsReadAgainAfterA401() async throws {
        try await Self.withRig { rig in
            let source = rig.source()
            let policy = try Self.policy(Self.secured(rig.prometheus.url))
            #expect(await source.samples(for: policy, pods: ["vllm-0"], ready: ["vllm-0"], at: Date()) == [.value(7)])

            // Prometheus takes the new password first: the old one is refused, and the Secret still holds it.
            try rig.prometheus.setUsers(["autoscaler": Self.second.1])
            try await Task.sleep(for: .milliseconds(600))  // past the batch's reuse (half the polling interval)
            let stale = await source.samples(for: policy, pods: ["vllm-0"], ready: ["vllm-0"], at: Date())
            let reason = try #require(Self.reason(stale))
            #expect(reason.contains("401"))
            #expect(!reason.contains(Self.first.0) && !reason.contains(Self.second.0))

            // The Secret is rotated: the next 401 makes the controller read it again, with no restart.
            try rig.setSecret(password: Self.second.0)
            try await Task.sleep(for: .milliseconds(600))
            #expect(await source.samples(for: policy, pods: ["vllm-0"], ready: ["vllm-0"], at: Date()) == [.value(7)])
        }
    }

    @Test func theControllerWideCredentialsGoToTheDefaultAddressOnly() async throws {
        try await Self.withRig { rig in
            let passwordFile = rig.directory.appendingPathComponent("password").path
            try "\(Self.first.0)\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
            let seen = Mutex<[String]>([])
            let other = try await LoopbackHTTPServer.start { request in
                seen.withLock { $0.append(request.headers["authorization"] ?? "none") }
                return .init(
                    status: 200, contentType: "application/json",
                    body: #"{"status":"success","data":{"resultType":"vector","result":[]}}"#)
            }
            let source = PrometheusSignalSource(
                defaultAddress: rig.prometheus.url,
                defaultCredentials: .init(
                    username: "autoscaler", passwordFile: passwordFile, caFile: rig.certificates.caCertificatePath,
                    certFile: rig.certificates.clientCertificatePath, keyFile: rig.certificates.clientKeyPath,
                    headers: ["X-Scope-OrgID": "platform"]))
            #expect(
                await source.samples(for: try Self.policy("{}"), pods: ["vllm-0"], ready: ["vllm-0"], at: Date()) == [
                    .value(7)
                ])

            _ = await source.samples(
                for: try Self.policy(#"{"address":"\#(other.url)"}"#), pods: ["vllm-0"], ready: ["vllm-0"], at: Date())
            #expect(!seen.withLock { $0 }.isEmpty)
            #expect(seen.withLock { $0 }.allSatisfy { $0 == "none" })
            await other.stop()
        }
    }
}
