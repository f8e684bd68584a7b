import Foundation
import KubernetesModel
import Testing

@testable import AutoscalerCore

/// Rules 7 and 8: stabilization windows and per-period rate policies, with HPA's semantics.
@Suite struct BehaviorTests {
    func behavior(
        up: ResolvedPolicy.ScalingRules = unlimitedRules, down: ResolvedPolicy.ScalingRules = unlimitedRules
    ) -> ResolvedPolicy.Behavior {
        .init(tolerance: 0.1, scaleUp: up, scaleDown: down)
    }

    func window(_ seconds: Double) -> ResolvedPolicy.ScalingRules {
        .init(stabilizationWindow: seconds, policies: unlimitedRules.policies, selectPolicy: .max)
    }

    func history(_ entries: (Double, Int)...) -> DecisionHistory {
        DecisionHistory(recommendations: entries.map { .init(time: at($0.0), replicas: $0.1) })
    }

    // MARK: Stabilization

    @Test func scaleDownTakesTheHighestRecommendationOfItsWindow() {
        let decision = decide(
            policy(behavior: behavior(down: window(300))), current: 8, [.value(0.5)],
            history: history((-200, 8), (-100, 6)))
        #expect(decision.desiredReplicas == 8)
        #expect(decision.limitedBy == .scaleDownStabilization)
    }

    @Test func aRecommendationExactlyOnTheWindowEdgeHasExpired() {
        // HPA keeps recommendations strictly after now - window.
        let decision = decide(
            policy(behavior: behavior(down: window(300))), current: 8, [.value(0.5)],
            history: history((-300, 8), (-100, 6)))
        #expect(decision.desiredReplicas == 6)
    }

    @Test func scaleUpTakesTheLowestRecommendationOfItsWindow() {
        let held = decide(
            policy(behavior: behavior(up: window(60))), current: 4, [.value(12.5)], history: history((-30, 4)))
        #expect(held.desiredReplicas == 4)
        #expect(held.limitedBy == .scaleUpStabilization)
        let partly = decide(
            policy(behavior: behavior(up: window(60))), current: 4, [.value(12.5)], history: history((-30, 7)))
        #expect(partly.desiredReplicas == 7)
        let expired = decide(
            policy(behavior: behavior(up: window(60))), current: 4, [.value(12.5)], history: history((-60, 4)))
        #expect(expired.desiredReplicas == 10)
    }

    @Test func aSlowDownWindowDoesNotDelayScaleUp() {
        let decision = decide(
            policy(behavior: behavior(down: window(300))), current: 4, [.value(12.5)], history: history((-10, 2)))
        #expect(decision.desiredReplicas == 10)
    }

    @Test func theWindowReplaysADownwardStaircase() {
        // Load drops at t0; with a 300 s window the count follows the highest recent recommendation.
        let p = policy(behavior: behavior(down: window(300)))
        var state = DecisionHistory()
        var current = 10
        var counts: [Int] = []
        for round in 0..<30 {
            let decision = decide(
                p, current: current, [.value(round == 0 ? 5 : 1)], history: state, now: at(Double(round) * 15))
            current = decision.desiredReplicas
            state = decision.history
            counts.append(current)
        }
        // Held at 10 while the t0 recommendation (10) is within the window, then down to ceil(10 × 1/5) = 2.
        #expect(counts.prefix(20).allSatisfy { $0 == 10 })
        #expect(counts[20] == 2)
    }

    // MARK: Rate policies

    @Test(arguments: [
        (SelectPolicy.max, 6), (.min, 4), (.disabled, 2),
    ])
    func scaleUpPolicySelection(_ select: SelectPolicy, _ expected: Int) {
        var up = PolicyDefaults.scaleUp
        up.selectPolicy = select
        let decision = decide(policy(behavior: behavior(up: up)), current: 2, [.value(50)])
        #expect(decision.desiredReplicas == expected)
        #expect(decision.limitedBy == .scaleUpRate)
    }

    @Test(arguments: [
        (-10.0, 6),  // +4 within the period: the period started at 2, so the limit is max(2 + 4, 2 × 2) = 6
        (-14.999, 6),
        (-15.0, 12),  // exactly one period ago: outside it; the period starts at 6
        (-40.0, 12),
    ])
    func scaleUpIsCountedFromThePeriodStart(_ eventAge: Double, _ expected: Int) {
        let history = DecisionHistory(scaleEvents: [.init(time: at(eventAge), change: 4)])
        let decision = decide(
            policy(behavior: behavior(up: PolicyDefaults.scaleUp)), current: 6, [.value(50)], history: history)
        #expect(decision.desiredReplicas == expected)
    }

    @Test func scaleDownOnePodPerPeriod() {
        let down = PolicyDefaults.scaleDown
        let p = policy(behavior: behavior(down: .init(stabilizationWindow: 0, policies: down.policies)))
        let first = decide(p, current: 5, [.value(0)])
        #expect(first.desiredReplicas == 4)
        #expect(first.limitedBy == .scaleDownRate)
        // 60 s later the period (120 s) still holds the -1: the period started at 5, so 4 is the floor.
        let second = decide(p, current: 4, [.value(0)], history: first.history, now: at(60))
        #expect(second.desiredReplicas == 4)
        let third = decide(p, current: 4, [.value(0)], history: second.history, now: at(120))
        #expect(third.desiredReplicas == 3)
    }

    @Test(arguments: [
        (SelectPolicy.max, 5),  // the most change: 50 % of 10 leaves 5
        (.min, 9),  // the least change: one pod
        (.disabled, 10),
    ])
    func scaleDownPolicySelection(_ select: SelectPolicy, _ expected: Int) {
        let down = ResolvedPolicy.ScalingRules(
            stabilizationWindow: 0,
            policies: [.init(type: .pods, value: 1, period: 60), .init(type: .percent, value: 50, period: 60)],
            selectPolicy: select)
        #expect(decide(policy(behavior: behavior(down: down)), current: 10, [.value(0)]).desiredReplicas == expected)
    }

    @Test func percentScaleDownTruncatesAndPercentScaleUpRoundsUp() {
        let percent = { (value: Int) in
            ResolvedPolicy.ScalingRules(
                stabilizationWindow: 0, policies: [.init(type: .percent, value: value, period: 60)])
        }
        // 5 × (1 - 0.5) = 2.5 -> 2
        #expect(decide(policy(behavior: behavior(down: percent(50))), current: 5, [.value(0)]).desiredReplicas == 2)
        // 3 × 1.1 = 3.3 -> 4
        #expect(decide(policy(behavior: behavior(up: percent(10))), current: 3, [.value(50)]).desiredReplicas == 4)
    }

    @Test func upAndDownEventsBothMoveThePeriodStart() {
        // Within the last minute: +4 then -2. Current 8; the period started at 8 - 4 + 2 = 6.
        let history = DecisionHistory(scaleEvents: [.init(time: at(-50), change: 4), .init(time: at(-20), change: -2)])
        let up = ResolvedPolicy.ScalingRules(
            stabilizationWindow: 0, policies: [.init(type: .pods, value: 4, period: 60)])
        #expect(
            decide(policy(behavior: behavior(up: up)), current: 8, [.value(50)], history: history).desiredReplicas == 10
        )
    }

    @Test func scaleEventsAreRecorded() {
        let decision = decide(policy(behavior: behavior(up: PolicyDefaults.scaleUp)), current: 2, [.value(50)])
        #expect(decision.history.scaleEvents == [.init(time: t0, change: 4)])
        #expect(decision.changesReplicas)
        let unchanged = decide(policy(), current: 2, [.value(5)])
        #expect(unchanged.history.scaleEvents.isEmpty)
        #expect(!unchanged.changesReplicas)
    }

    @Test func pausedDecidesNothing() {
        let history = DecisionHistory(recommendations: [.init(time: at(-10), replicas: 3)])
        let decision = decide(policy(paused: true), current: 2, [.value(50)], history: history)
        #expect(decision.desiredReplicas == 2)
        #expect(decision.limitedBy == .paused)
        #expect(decision.history == history)
        #expect(decision.signals[0].value == 50)
    }
}
