import Foundation
import KubernetesModel
import Testing

@testable import AutoscalerCore

@Suite struct HistoryTests {
    @Test func historyStaysSmallOverADay() {
        // A day of 15 s rounds with a load that wanders: the history never outgrows its windows.
        let p = policy(behavior: PolicyDefaults.behavior)
        var rng = SplitMix64(seed: 7)
        var history = DecisionHistory()
        var current = 3
        var largest = 0
        for round in 0..<5760 {
            let load = Double(rng.next() % 40)
            let decision = decide(p, current: current, [.value(load)], history: history, now: at(Double(round) * 15))
            current = decision.desiredReplicas
            history = decision.history
            largest = max(largest, history.recommendations.count + history.scaleEvents.count)
        }
        // 300 s window / 15 s = 20 recommendations at most, 120 s period / 15 s = 8 events at most.
        #expect(largest <= 28)
        #expect(largest > 0)
    }

    @Test func pruningKeepsWhatAWindowCanStillReturn() {
        var history = DecisionHistory(
            recommendations: [
                .init(time: at(-250), replicas: 9), .init(time: at(-200), replicas: 3),
                .init(time: at(-150), replicas: 5),
                .init(time: at(-100), replicas: 7), .init(time: at(-50), replicas: 4),
                .init(time: at(-400), replicas: 20),
            ].sorted { $0.time < $1.time })
        history.prune(rules: PolicyDefaults.behavior, now: t0)
        // -400 is outside every window; 5 at -150 is dominated by 7 (newer, higher) and 4 (newer, lower).
        #expect(history.recommendations.map(\.replicas) == [9, 3, 7, 4])
    }

    @Test func scaleEventsAreCappedWithoutLooseningTheRateLimit() {
        let rules = ResolvedPolicy.Behavior(
            tolerance: 0.1,
            scaleUp: .init(stabilizationWindow: 0, policies: [.init(type: .pods, value: 1, period: 1800)]),
            scaleDown: .init(stabilizationWindow: 0, policies: [.init(type: .pods, value: 1, period: 1800)]))
        var history = DecisionHistory(
            scaleEvents: (0..<600).map { .init(time: at(Double($0) - 600), change: $0 % 3 == 0 ? -1 : 1) })
        let added = history.scaleEvents.filter { $0.change > 0 }.reduce(0) { $0 + $1.change }
        let removed = history.scaleEvents.filter { $0.change < 0 }.reduce(0) { $0 + $1.change }
        let upBefore = RateLimits.scaleUpLimit(current: 300, events: history.scaleEvents, rules: rules.scaleUp, now: t0)
        history.prune(rules: rules, now: t0)
        #expect(history.scaleEvents.count <= DecisionHistory.maxScaleEvents)
        #expect(history.scaleEvents.filter { $0.change > 0 }.reduce(0) { $0 + $1.change } == added)
        #expect(history.scaleEvents.filter { $0.change < 0 }.reduce(0) { $0 + $1.change } == removed)
        // Everything is still inside the period, so the limits are unchanged.
        #expect(
            RateLimits.scaleUpLimit(current: 300, events: history.scaleEvents, rules: rules.scaleUp, now: t0)
                == upBefore)
    }

    @Test func historyRoundTripsThroughJSONAndGivesTheSameDecision() throws {
        let p = policy(behavior: PolicyDefaults.behavior)
        let first = decide(p, current: 2, [.value(20)], now: Date(timeIntervalSince1970: 1_800_000_000.25))
        let data = try JSONEncoder().encode(first.history)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("2027-01-15T08:00:00.250Z"))
        let decoded = try JSONDecoder().decode(DecisionHistory.self, from: data)
        #expect(decoded == first.history)
        let a = decide(p, current: 6, [.value(1)], history: first.history, now: at(30))
        let b = decide(p, current: 6, [.value(1)], history: decoded, now: at(30))
        #expect(a == b)
    }

    @Test func theDecisionEncodesForStatus() throws {
        let decision = decide(policy(), current: 2, [.value(20)])
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(decision)) as? [String: Any]
        #expect(json?["desiredReplicas"] as? Int == 8)
        #expect(json?["limitedBy"] as? String == "QueueDepth")
        let back = try JSONDecoder().decode(ScalingDecision.self, from: JSONEncoder().encode(decision))
        #expect(back == decision)
    }

    @Test(arguments: [
        "QueueDepth", "Custom[2]", "schedule:business-hours", "scaleDownStabilization", "fallback", "paused",
    ])
    func limitReasonsRoundTrip(_ text: String) {
        #expect(LimitReason(text).description == text)
    }

    @Test func conditionsKeepTheirTransitionTimeUntilTheyChange() {
        let first = PolicyCondition.merge(
            [], with: [.init(type: "Ready", status: .true, reason: "Reconciled", message: "ok")], now: t0,
            observedGeneration: 1)
        let same = PolicyCondition.merge(
            first, with: [.init(type: "Ready", status: .true, reason: "Reconciled", message: "still ok")], now: at(60),
            observedGeneration: 2)
        #expect(same[0].lastTransitionTime == Timestamp.format(t0))
        #expect(same[0].message == "still ok")
        #expect(same[0].observedGeneration == 2)
        let flipped = PolicyCondition.merge(
            same, with: [.init(type: "Ready", status: .false, reason: "InvalidSpec", message: "bad")], now: at(120),
            observedGeneration: 3)
        #expect(flipped[0].lastTransitionTime == Timestamp.format(at(120)))
    }
}

/// A small seeded generator, so that random tests repeat exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
