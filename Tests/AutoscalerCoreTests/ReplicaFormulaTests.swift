import Foundation
import KubernetesModel
import Testing

@testable import AutoscalerCore

/// Rule 1 and 2: HPA's formula per signal, the tolerance band, the maximum over signals.
@Suite struct ReplicaFormulaTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var ready: Int
        var current: Int
        var value: Double
        var target: Double
        var type: TargetType
        var expected: Int
        var testDescription: String {
            "ready \(ready), current \(current), \(type.rawValue) \(value)/\(target) -> \(expected)"
        }
    }

    @Test(arguments: [
        // ceil(ready × value / target)
        Case(ready: 4, current: 4, value: 10, target: 5, type: .averageValue, expected: 8),
        Case(ready: 4, current: 4, value: 5.6, target: 5, type: .averageValue, expected: 5),
        Case(ready: 4, current: 4, value: 2, target: 5, type: .averageValue, expected: 2),
        Case(ready: 3, current: 3, value: 7, target: 2, type: .averageValue, expected: 11),
        // inside the tolerance band (|ratio - 1| <= 0.1): no change
        Case(ready: 4, current: 4, value: 5.4, target: 5, type: .averageValue, expected: 4),
        Case(ready: 10, current: 10, value: 4.6, target: 5, type: .averageValue, expected: 10),
        Case(ready: 10, current: 10, value: 5.5, target: 5, type: .averageValue, expected: 10),
        Case(ready: 10, current: 10, value: 4.5, target: 5, type: .averageValue, expected: 10),
        // just outside the band
        Case(ready: 10, current: 10, value: 5.51, target: 5, type: .averageValue, expected: 12),
        Case(ready: 10, current: 10, value: 4.49, target: 5, type: .averageValue, expected: 9),
        // fleet totals: ceil(value / target)
        Case(ready: 4, current: 4, value: 42, target: 5, type: .value, expected: 9),
        Case(ready: 4, current: 4, value: 21, target: 5, type: .value, expected: 4),
        Case(ready: 4, current: 4, value: 3, target: 5, type: .value, expected: 1),
        // no ready replica: the value is a total
        Case(ready: 0, current: 2, value: 12, target: 5, type: .averageValue, expected: 3),
    ])
    func hpaFormula(_ c: Case) {
        let signal = queue(c.target, c.type)
        let result = ScalingDecider.recommendedReplicas(
            signal, value: c.value, ready: c.ready, current: c.current, tolerance: 0.1, upStep: 1000)
        #expect(result == c.expected)
    }

    @Test func inBandVoteStaysBetweenTheBandEdges() {
        // 10 ready but 20 desired (10 stuck): "no change" may not exceed what a slightly higher load recommends.
        let signal = queue(5)
        let inBand = ScalingDecider.recommendedReplicas(
            signal, value: 5.2, ready: 10, current: 20, tolerance: 0.1, upStep: 1000)
        let above = ScalingDecider.recommendedReplicas(
            signal, value: 5.6, ready: 10, current: 20, tolerance: 0.1, upStep: 1000)
        #expect(inBand == 11)
        #expect(above == 12)
    }

    @Test func floatingPointNoiseDoesNotAddAReplica() {
        #expect(ScalingDecider.ceilReplicas(3 * 0.85 / 0.85) == 3)
        #expect(ScalingDecider.ceilReplicas(0.1 * 3 / 0.1) == 3)
        #expect(ScalingDecider.ceilReplicas(3.0001) == 4)
    }

    @Test func hugeAndZeroValuesSaturate() {
        #expect(ScalingDecider.ceilReplicas(1e300) == replicaCeiling)
        #expect(ScalingDecider.ceilReplicas(0) == 0)
        let decision = decide(policy(max: 8), current: 2, [.value(1e308)])
        #expect(decision.desiredReplicas == 8)
        #expect(decision.limitedBy == .maxReplicas)
    }

    @Test func theLargestRecommendationWins() {
        let signals = [queue(5), ResolvedPolicy.Signal(type: .kvCacheUtilization, target: 0.8)]
        let decision = decide(policy(signals: signals), current: 4, [.value(6), .value(1.2)])
        // queue: ceil(4 × 6 / 5) = 5; KV: ceil(4 × 1.2 / 0.8) = 6
        #expect(decision.desiredReplicas == 6)
        #expect(decision.limitedBy == .signal("KVCacheUtilization"))
        #expect(decision.signals.map(\.recommendation) == [5, 6])
    }

    @Test func aQueueBelowTargetAbstainsWhenABusySignalSizesTheScaleDown() {
        // queue: ceil(4 × 3 / 5) = 3 would shrink the fleet; KV: ceil(4 × 0.4 / 0.8) = 2 says by how much.
        let signals = [queue(5), ResolvedPolicy.Signal(type: .kvCacheUtilization, target: 0.8)]
        let decision = decide(policy(signals: signals), current: 4, [.value(3), .value(0.4)])
        #expect(decision.signals.map(\.recommendation) == [nil, 2])
        #expect(decision.desiredReplicas == 2)
        #expect(decision.limitedBy == .signal("KVCacheUtilization"))
        // Busy but keeping up (KV at target): the empty queue alone does not shrink it.
        let busy = decide(policy(signals: signals), current: 4, [.value(0), .value(0.8)])
        #expect(busy.desiredReplicas == 4)
        // Without a busy signal the queue still sizes the scale-down, as HPA would.
        #expect(decide(policy(signals: [queue(5)]), current: 4, [.value(3)]).desiredReplicas == 3)
    }

    @Test func tiesNameTheFirstSignal() {
        let signals = [queue(5), ResolvedPolicy.Signal(type: .runningRequests, target: 10)]
        let decision = decide(policy(signals: signals), current: 2, [.value(10), .value(20)])
        #expect(decision.desiredReplicas == 4)
        #expect(decision.limitedBy == .signal("QueueDepth"))
    }

    @Test func latencyScalesUpByAtMostOnePolicyStep() {
        let ttft = ResolvedPolicy.Signal(type: .timeToFirstToken, target: 0.5, quantile: 0.95, window: 60)
        let defaults = policy(signals: [ttft], behavior: PolicyDefaults.behavior)
        // ratio 2: ceil(4 × 2) = 8, within one step (max(4 + 4, 4 × 2) = 8)
        #expect(decide(defaults, current: 4, [.value(1.0)]).desiredReplicas == 8)
        // ratio 10 would ask 40; one step allows 8
        let surge = decide(defaults, current: 4, [.value(5.0)])
        #expect(surge.desiredReplicas == 8)
        #expect(surge.signals[0].recommendation == 8)
    }

    @Test(arguments: [0.1, 0.4, 0.5, 0.54])
    func latencyUnderTargetAbstainsAndAloneHolds(_ seconds: Double) {
        let ttft = ResolvedPolicy.Signal(type: .timeToFirstToken, target: 0.5, quantile: 0.95, window: 60)
        let decision = decide(policy(signals: [ttft]), current: 6, [.value(seconds)])
        #expect(decision.desiredReplicas == 6)
        #expect(decision.signals[0].recommendation == nil)
        #expect(decision.limitedBy == .signal("TimeToFirstToken"))
    }

    @Test func latencyUnderTargetDoesNotBlockAScaleDownByTheOtherSignals() {
        // Queue 2 per replica on 6 wants ceil(12 / 5) = 3; TTFT is fine and must not hold the fleet at 6.
        let queue = ResolvedPolicy.Signal(type: .queueDepth, target: 5)
        let ttft = ResolvedPolicy.Signal(type: .timeToFirstToken, target: 0.5, quantile: 0.95, window: 60)
        let decision = decide(policy(signals: [queue, ttft]), current: 6, [.value(2), .value(0.2)])
        #expect(decision.desiredReplicas == 3)
        #expect(decision.limitedBy == .signal("QueueDepth"))
    }

    @Test func latencyNeverAsksForFewerThanCurrent() {
        // 2 ready of 6 (4 stuck): over target, but ceil(2 × 1.5) = 3 must not pull the count down.
        let ttft = ResolvedPolicy.Signal(type: .timeToFirstToken, target: 0.5, quantile: 0.95, window: 60)
        #expect(
            ScalingDecider.recommendedReplicas(ttft, value: 0.75, ready: 2, current: 6, tolerance: 0.1, upStep: 100)
                == 6)
    }

    @Test func latencyWaitsOneWindowAfterAScaleUpBeforeAskingForMore() {
        // TTFT p95 over a 60 s window is 2 s against 0.5 s: it would double 4 → 8. Thirty seconds after going 2 → 4
        // the window still describes the smaller fleet, so it holds; once the window has passed it may ask again.
        let ttft = ResolvedPolicy.Signal(type: .timeToFirstToken, target: 0.5, quantile: 0.95, window: 60)
        let rules = policy(signals: [ttft], behavior: PolicyDefaults.behavior)
        let scaledUp = DecisionHistory(scaleEvents: [.init(time: t0.addingTimeInterval(-30), change: 2)])
        let soon = decide(rules, current: 4, [.value(2)], history: scaledUp)
        #expect(soon.desiredReplicas == 4)
        let later = decide(rules, current: 4, [.value(2)], history: scaledUp, now: t0.addingTimeInterval(31))
        #expect(later.desiredReplicas == 8)
    }

    @Test func latencyDoesNotOrderMoreWhilePodsAreLoading() {
        // 4 ready and 2 loading for 20 s of a 90 s start: the backlog TTFT measures is what they will absorb.
        let ttft = ResolvedPolicy.Signal(type: .timeToFirstToken, target: 0.5, quantile: 0.95, window: 60)
        let decision = decide(
            policy(signals: [ttft], startup: 90), current: 6, ready: 4,
            pods: startingPods(2, createdAt: t0.addingTimeInterval(-20)), [.value(3)])
        #expect(decision.desiredReplicas == 6)
        #expect(decision.limitedBy == .coldStart)
    }
}
