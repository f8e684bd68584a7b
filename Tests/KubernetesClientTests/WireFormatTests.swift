import Foundation
import KubernetesModel
import Testing

@testable import KubernetesClient

/// Parsing and encoding that need no server.
@Suite struct WireFormatTests {
    static func stream(_ chunks: [String]) -> AsyncThrowingStream<Data, any Error> {
        AsyncThrowingStream { continuation in
            for chunk in chunks { continuation.yield(Data(chunk.utf8)) }
            continuation.finish()
        }
    }

    static let events = [
        #"{"type":"ADDED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"a","namespace":"w","resourceVersion":"11"}}}"#,
        #"{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"12"}}}"#,
        #"{"type":"DELETED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"a","namespace":"w","resourceVersion":"13"}}}"#,
        #"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (12)","reason":"Expired","code":410}}"#,
    ]

    @Test(arguments: [1, 7, 64, 10_000])
    func watchEventsSurviveAnyChunking(_ size: Int) async throws {
        let body = Self.events.joined(separator: "\n") + "\n"
        let bytes = Array(body.utf8)
        let chunks = stride(from: 0, to: bytes.count, by: size).map {
            String(decoding: bytes[$0..<min($0 + size, bytes.count)], as: UTF8.self)
        }
        var seen: [WatchEvent<DynamicObject>] = []
        for try await event in WatchEventStream<DynamicObject>(body: Self.stream(chunks)) { seen.append(event) }
        #expect(seen.map(\.type) == [.added, .bookmark, .deleted, .error])
        #expect(seen.map(\.resourceVersion) == ["11", "12", "13", nil])
        #expect(seen[0].object?.metadata.name == "a")
        #expect(seen[1].object == nil)
        #expect(seen[3].status?.code == 410)
        #expect(seen[3].status?.reason == "Expired")
    }

    @Test func aLastEventWithoutANewlineCountsAndBlankLinesDoNot() async throws {
        let body = "\n\r\n" + Self.events[0] + "\n\n" + Self.events[2]
        var types: [WatchEvent<DynamicObject>.Kind] = []
        for try await event in WatchEventStream<DynamicObject>(body: Self.stream([body])) { types.append(event.type) }
        #expect(types == [.added, .deleted])
    }

    @Test func aGarbledEventIsAnError() async throws {
        await #expect(throws: KubernetesDecodingError.self) {
            for try await _ in WatchEventStream<DynamicObject>(
                body: Self.stream([#"{"type":"WHAT","object":{}}"# + "\n"]))
            {}
        }
    }

    @Test func queryValuesAreEncodedSoTheServerReadsThemBack() {
        let query = PercentEncoding.query([
            ("labelSelector", "app=vllm,tier in (a,b)"), ("continue", "eyJydiI6+/=="), ("limit", "10"),
        ])
        #expect(query == "labelSelector=app%3Dvllm%2Ctier%20in%20%28a%2Cb%29&continue=eyJydiI6%2B%2F%3D%3D&limit=10")
        let decoded = URLComponents(string: "https://x/?" + query)?.queryItems?.map { "\($0.name)=\($0.value ?? "")" }
        #expect(decoded == ["labelSelector=app=vllm,tier in (a,b)", "continue=eyJydiI6+/==", "limit=10"])
    }

    @Test(arguments: [
        (APIResource.pods, "inference", "vllm-0", nil as String?, "/api/v1/namespaces/inference/pods/vllm-0"),
        (.deployments, "inference", "vllm", "scale", "/apis/apps/v1/namespaces/inference/deployments/vllm/scale"),
        (
            .inferenceAutoscalePolicies, "ns", "p", "status",
            "/apis/autoscaling.inference.dev/v1alpha1/namespaces/ns/inferenceautoscalepolicies/p/status"
        ),
        (.namespaces, "ignored", "default", nil, "/api/v1/namespaces/default"),
    ])
    func resourcePaths(_ resource: APIResource, _ namespace: String, _ name: String, _ sub: String?, _ path: String) {
        #expect(resource.path(namespace: namespace, name: name, subresource: sub) == path)
    }

    @Test func statusBodiesBecomeErrors() {
        let body = Data(
            #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \"x\" not found","reason":"NotFound","details":{"name":"x","group":"apps","kind":"deployments"},"code":404}"#
                .utf8)
        let error = KubernetesError.from(
            status: 404, body: body, request: "GET /x", verb: "get", resource: "deployments.apps")
        #expect(error.isNotFound)
        #expect(error.message == #"deployments.apps "x" not found"#)
        #expect(error.status?.details?.name == "x")
        let forbidden = KubernetesError.from(
            status: 403, body: Data("no".utf8), request: "PATCH /x", verb: "patch", resource: "deployments.apps/scale")
        #expect(forbidden.reason == "Forbidden")
        #expect(forbidden.message == "RBAC refused patch on deployments.apps/scale: no")
    }

    @Test func retryDelaysGrowAndHonourRetryAfter() {
        let policy = RetryPolicy(maxAttempts: 5, baseDelay: 0.2, maxDelay: 10)
        for attempt in 1...8 {
            let step = min(10, 0.2 * pow(2, Double(attempt - 1)))
            let delay = policy.delay(afterAttempt: attempt, retryAfter: nil)
            #expect(delay >= step / 2 && delay <= step)
        }
        #expect(policy.delay(afterAttempt: 1, retryAfter: 3) == 3)
        #expect(policy.delay(afterAttempt: 1, retryAfter: 3600) == RetryPolicy.longestRetryAfter)
    }
}
