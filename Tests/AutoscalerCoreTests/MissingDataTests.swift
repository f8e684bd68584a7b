import Foundation
import KubernetesModel
import Testing

@testable import AutoscalerCore

/// Rule 3: missing data never scales down; fallback after N rounds with no readable signal.
@Suite struct MissingDataTests {
    let twoSignals = [queue(5), ResolvedPolicy.Signal(type: .kvCacheUtilization, target: 0.8)]

    @Test func oneMissingSignalHoldsTheCount() {
        let decision = decide(policy(signals: twoSignals), current: 5, [.missing("connection refused"), .value(0.2)])
        #expect(decision.desiredReplicas == 5)
        #expect(decision.limitedBy == .missingMetrics)
        #expect(condition(decision, "MetricsAvailable")?.status == .false)
        #expect(condition(decision, "MetricsAvailable")?.reason == "SomeSignalsMissing")
        #expect(decision.signals[0].error == "connection refused")
        #expect(decision.signals[0].value == nil)
    }

    @Test func oneMissingSignalStillAllowsScaleUp() {
        let decision = decide(policy(signals: twoSignals), current: 5, [.missing("timeout"), .value(1.6)])
        #expect(decision.desiredReplicas == 10)
        #expect(decision.limitedBy == .signal("KVCacheUtilization"))
    }

    @Test(arguments: [
        (SignalSample.value(.nan), "value is NaN"), (.value(.infinity), "value is +Inf"),
        (.value(-.infinity), "value is -Inf"), (.value(-3), "negative value -3.0"),
    ])
    func unusableNumbersAreMissing(_ sample: SignalSample, _ reason: String) {
        let decision = decide(policy(), current: 5, [sample])
        #expect(decision.desiredReplicas == 5)
        #expect(decision.signals[0].error == reason)
        #expect(decision.history.consecutiveFailures == 1)
    }

    @Test func aSignalWithNoSampleIsMissing() {
        let decision = decide(policy(signals: twoSignals), current: 3, [.value(0)])
        #expect(decision.signals[1].error == "no sample")
        #expect(decision.desiredReplicas == 3)
    }

    @Test func noReadableSignalCountsFailuresAndHoldsWithoutFallback() {
        var history = DecisionHistory()
        for round in 1...12 {
            let decision = decide(
                policy(), current: 4, [.missing("down")], history: history, now: at(Double(round) * 15))
            #expect(decision.desiredReplicas == 4)
            // Held at the limit: a steady state without metrics changes nothing in status.
            #expect(decision.history.consecutiveFailures == min(round, ScalingDecider.failureCountLimit))
            #expect(condition(decision, "Fallback")?.status == .false)
            history = decision.history
        }
    }

    @Test func fallbackAppliesAfterTheConfiguredFailures() {
        let withFallback = policy(fallback: .init(replicas: 6, afterFailures: 3))
        var history = DecisionHistory()
        var counts: [Int] = []
        for round in 1...4 {
            let decision = decide(
                withFallback, current: counts.last ?? 2, [.missing("down")], history: history,
                now: at(Double(round) * 15))
            counts.append(decision.desiredReplicas)
            history = decision.history
            if round >= 3 {
                #expect(decision.limitedBy == .fallback)
                #expect(condition(decision, "Fallback")?.status == .true)
            }
        }
        #expect(counts == [2, 2, 6, 6])
    }

    @Test func fallbackNeverLowersTheCount() {
        let withFallback = policy(fallback: .init(replicas: 2, afterFailures: 1))
        let decision = decide(withFallback, current: 7, [.missing("down")])
        #expect(decision.desiredReplicas == 7)
        #expect(decision.limitedBy == .fallback)
    }

    @Test func fallbackStaysWithinMaxReplicas() {
        let withFallback = policy(max: 5, fallback: .init(replicas: 5, afterFailures: 1))
        #expect(decide(withFallback, current: 9, [.missing("down")]).desiredReplicas == 5)
    }

    @Test func aReadableSignalEndsTheFallbackAndResetsTheCount() {
        let withFallback = policy(behavior: PolicyDefaults.behavior, fallback: .init(replicas: 6, afterFailures: 1))
        let blind = decide(withFallback, current: 2, [.missing("down")])
        #expect(blind.desiredReplicas == 6)
        let back = decide(withFallback, current: 6, [.value(0)], history: blind.history, now: at(15))
        #expect(back.history.consecutiveFailures == 0)
        #expect(condition(back, "Fallback")?.status == .false)
        // The fallback count was recorded: the scale-down window holds it instead of dropping at once.
        #expect(back.desiredReplicas == 6)
        #expect(back.limitedBy == .scaleDownStabilization)
    }
}
