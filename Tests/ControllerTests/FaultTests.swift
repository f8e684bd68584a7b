import Foundation
import KubernetesClient
import KubernetesModel
import KubernetesTestServer
import MetricsFixture
import Testing

@testable import Controller

/// Failures around the controller, over real HTTP: no scale decision is lost or made twice, and nothing is scaled
/// on data that could not be read.
extension ControllerIntegrationTests {
    @Test func apiErrorsWatchCutsAndATokenRotationLoseNoDecisionAndDuplicateNone() async throws {
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID().uuidString)")
        try "test-token".write(to: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: tokenFile) }
        let rig = try await Rig(waiting: 15, credentials: .token(FileToken(path: tokenFile.path))) { server in
            // From the start: the first requests fail, and every watch is cut after two events.
            server.failNextRequests(8, status: 500)
            server.closeWatches(afterEvents: 2)
        }
        do {
            try await Task.sleep(for: .seconds(1))
            // The token rotates (the file first, as the kubelet writes it), then the server throttles.
            try "rotated-token".write(to: tokenFile, atomically: true, encoding: .utf8)
            rig.server.setAcceptedTokens(["rotated-token"])
            rig.server.failNextRequests(6, status: 429, retryAfterSeconds: 1)
            try rig.apply(Self.llama)

            try await Self.eventually("the scale-up", within: 45) { rig.replicas == 6 }
            try await Task.sleep(for: .seconds(3))
            let patches = rig.server.requests.filter {
                $0.method == "PATCH" && $0.path.hasSuffix("/deployments/vllm/scale") && $0.status == 200
            }
            #expect(patches.count == 1, "\(patches.count) scale patches")
            let bodies = patches.map { String(decoding: $0.body, as: UTF8.self) }
            #expect(bodies.allSatisfy { $0.contains("6") }, "\(bodies)")
            let scaledUp = rig.server.objects(resource: .events, namespace: "inference").filter {
                $0["reason"] == .string("ScaledUp")
            }
            #expect(scaledUp.count == 1)
            #expect(patches.allSatisfy { $0.bearerToken == "rotated-token" })
            #expect(rig.server.requests.contains { $0.status == 429 })
        } catch {
            try await rig.stop()
            throw error
        }
        try await rig.stop()
    }

    @Test(arguments: ["garbage", "NaN", "hang"])
    func aPrometheusThatAnswersNonsenseHoldsThenFallsBack(_ failure: String) async throws {
        let stub: StubHTTPServer
        switch failure {
        case "garbage": stub = try await StubHTTPServer.start(.respond(status: 200, body: "<html>proxy error</html>"))
        case "NaN":
            stub = try await StubHTTPServer.start(
                .respond(
                    status: 200,
                    body:
                        #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[\#(Date().timeIntervalSince1970),"NaN"]}]}}"#
                ))
        default: stub = try await StubHTTPServer.start(.hang)
        }
        let rig = try await Rig(waiting: 15)
        do {
            try rig.apply(
                #"{"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy","metadata":{"name":"llama","namespace":"inference"},"spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"minReplicas":1,"maxReplicas":8,"pollingInterval":"1s","prometheus":{"address":"\#(stub.url)","timeout":"1s"},"signals":[{"type":"QueueDepth","target":5}],"fallback":{"replicas":4,"afterFailures":3}}}"#
            )
            // Held: the first unreadable rounds change nothing.
            try await Self.eventually("the first unreadable round", within: 30) {
                if case .array(let conditions)? = rig.status("llama")?["conditions"] {
                    return conditions.contains {
                        $0["type"] == .string("MetricsAvailable") && $0["status"] == .string("False")
                    }
                }
                return false
            }
            #expect(rig.replicas == 2, "scaled on data it could not read")
            try await Self.eventually("the fallback", within: 30) { rig.replicas == 4 }
            // The Event follows the scale it announces.
            try await Self.eventually("the FallbackActivated event") {
                rig.eventReasons.contains("FallbackActivated")
            }
        } catch {
            await stub.stop()
            try await rig.stop()
            throw error
        }
        await stub.stop()
        try await rig.stop()
    }
}
