import AutoscalerCore
import CurlHTTP
import Foundation
import MetricsFixture
import Testing

@testable import Signals

@Suite struct NamespaceBatchTests {
    static let byPod =
        #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"namespace":"ml","pod":"a-0"},"value":[1800000000,"4"]},{"metric":{"namespace":"ml","pod":"a-1"},"value":[1800000000,"8"]},{"metric":{"namespace":"ml","pod":"b-0"},"value":[1800000000,"100"]}]}}"#

    @Test func concurrentPoliciesOfANamespaceShareOneQueryPerRound() async throws {
        let stub = try await StubHTTPServer.start(.respond(status: 200, body: Self.byPod))
        defer { Task { await stub.stop() } }
        let client = PrometheusQueryClient(configuration: .init(address: URL(string: stub.url)!))
        let batches = NamespaceBatches()
        // A minute's reuse: the twenty share one answer however late a loaded machine runs some of them.
        let results = await withTaskGroup(of: Result<NamespaceBatches.PodValues, PrometheusError>.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    await batches.values(key: "k", query: "q", client: client, at: Date(), maxAge: 60)
                }
            }
            var all: [Result<NamespaceBatches.PodValues, PrometheusError>] = []
            for await result in group { all.append(result) }
            return all
        }
        #expect(stub.requests == 1)
        #expect(results.allSatisfy { (try? $0.get()) == ["a-0": ["": 4], "a-1": ["": 8], "b-0": ["": 100]] })
        _ = await batches.values(key: "k", query: "q", client: client, at: Date(), maxAge: 60)
        #expect(stub.requests == 1)
        // The next round asks again: 0.6 s later (at least) the answer is older than half a second.
        try await Task.sleep(for: .milliseconds(600))
        _ = await batches.values(key: "k", query: "q", client: client, at: Date(), maxAge: 0.5)
        #expect(stub.requests == 2)
        // Another signal or namespace is another query.
        _ = await batches.values(key: "other", query: "q2", client: client, at: Date(), maxAge: 0.5)
        #expect(stub.requests == 3)
    }

    @Test func aReadyPodWithoutASeriesIsCountedConservativelyNeverAveragedAway() {
        // a-0 reports; a-1 is ready but silent (its exporter broke, or its series went stale).
        let values: NamespaceBatches.PodValues = ["a-0": ["": 1]]
        let pods = ["a-0", "a-1"]
        // Averaged away, 1 per pod against a target of 5 would halve the fleet. Counted at the target, the silent
        // pod holds it: the average moves toward the target and never past it.
        #expect(
            NamespaceBatches.aggregate(values, pods: pods, ready: ["a-0", "a-1"], targetType: .averageValue, target: 5)
                == .value(3))
        // Asking for more: the silent pod counts as idle, so the fleet grows for the load that is seen, no more.
        let busy: NamespaceBatches.PodValues = ["a-0": ["": 20]]
        #expect(
            NamespaceBatches.aggregate(busy, pods: pods, ready: ["a-0", "a-1"], targetType: .averageValue, target: 5)
                == .value(10))
        let barely: NamespaceBatches.PodValues = ["a-0": ["": 6]]
        #expect(
            NamespaceBatches.aggregate(barely, pods: pods, ready: ["a-0", "a-1"], targetType: .averageValue, target: 5)
                == .value(5))
        // A total cannot be guessed: missing, and the decision holds.
        guard
            case .missing(let reason) = NamespaceBatches.aggregate(
                values, pods: pods, ready: ["a-0", "a-1"], targetType: .value, target: 5)
        else {
            Issue.record("a total without a ready pod got a value")
            return
        }
        #expect(reason.contains("1 of 2 ready pods") && reason.contains("a-1"))
        // A pod not ready yet (loading its model) is left out.
        #expect(
            NamespaceBatches.aggregate(values, pods: pods, ready: ["a-0"], targetType: .averageValue, target: 5)
                == .value(1))
    }

    @Test func aPolicySeesOnlyItsOwnPods() {
        let values: NamespaceBatches.PodValues = ["a-0": ["": 4], "a-1": ["": 8], "b-0": ["": 100]]
        #expect(NamespaceBatches.aggregate(values, pods: ["a-0", "a-1"], targetType: .averageValue) == .value(6))
        #expect(NamespaceBatches.aggregate(values, pods: ["a-0", "a-1"], targetType: .value) == .value(12))
        // A pod still loading reports nothing: the average is over those that report, as avg() is.
        #expect(NamespaceBatches.aggregate(values, pods: ["a-0", "a-2"], targetType: .averageValue) == .value(4))
        guard case .missing = NamespaceBatches.aggregate(values, pods: ["c-0"], targetType: .averageValue) else {
            Issue.record("a policy whose pods report nothing got a value")
            return
        }
        guard case .missing = NamespaceBatches.aggregate(["a-0": ["": .nan]], pods: ["a-0"], targetType: .averageValue)
        else {
            Issue.record("NaN became a value")
            return
        }
    }

    @Test func presetsThatArePerPodNumbersAreBatchedAndTheRestAreNot() throws {
        func signal(_ type: SignalType) -> ResolvedPolicy.Signal {
            ResolvedPolicy.Signal(type: type, target: 1, targetType: .averageValue, name: type.rawValue)
        }
        for type in [SignalType.queueDepth, .runningRequests, .kvCacheUtilization, .tokenThroughput, .timeToFirstToken]
        {
            let query = try #require(
                EnginePresets.namespaceQuery(for: signal(type), names: EnginePresets.names(for: .vllm), namespace: "ml")
            )
            #expect(query.contains("by (namespace, pod"))
            #expect(query.contains(#"namespace="ml""#))
            #expect(!query.contains("pod=~"))
        }
        for type in [SignalType.gpuUtilization, .custom] {
            #expect(
                EnginePresets.namespaceQuery(for: signal(type), names: EnginePresets.names(for: .vllm), namespace: "ml")
                    == nil)
        }
    }

    @Test func aTTFTQuantileMergesTheOwnPodsBucketsAsPrometheusDoes() {
        // Two pods of the policy, one of another: rates per bucket (cumulative, as `_bucket` series are).
        let values: NamespaceBatches.PodValues = [
            "a-0": ["0.1": 1, "0.5": 3, "1": 4, "+Inf": 4],
            "a-1": ["0.1": 0, "0.5": 1, "1": 4, "+Inf": 4],
            "b-0": ["0.1": 0, "0.5": 0, "1": 0, "+Inf": 100],
        ]
        func value(_ q: Double, _ pods: [String]) -> Double? {
            if case .value(let value) = NamespaceBatches.quantile(q, of: values, pods: pods) { return value }
            return nil
        }
        // Merged: 0.1 → 1, 0.5 → 4, 1 → 8, +Inf → 8. p50: rank 4 falls at the 0.5 bound exactly.
        #expect(abs((value(0.5, ["a-0", "a-1"]) ?? -1) - 0.5) < 1e-9)
        // p75: rank 6, between 0.5 (4) and 1 (8): 0.5 + 0.5 × 2/4.
        #expect(abs((value(0.75, ["a-0", "a-1"]) ?? -1) - 0.75) < 1e-9)
        // p5: rank 0.4 in the first bucket, from 0: 0.1 × 0.4.
        guard case .value(let low) = NamespaceBatches.quantile(0.05, of: values, pods: ["a-0", "a-1"]) else {
            Issue.record("no value")
            return
        }
        #expect(abs(low - 0.04) < 1e-9)
        // All in +Inf: the highest finite bound.
        #expect(NamespaceBatches.quantile(0.5, of: values, pods: ["b-0"]) == .value(1))
        // No requests in the window: 0; no series: missing.
        #expect(NamespaceBatches.quantile(0.95, of: ["c-0": ["1": 0, "+Inf": 0]], pods: ["c-0"]) == .value(0))
        guard case .missing = NamespaceBatches.quantile(0.95, of: values, pods: ["z-0"]) else {
            Issue.record("a policy whose pods report nothing got a value")
            return
        }
    }
}
