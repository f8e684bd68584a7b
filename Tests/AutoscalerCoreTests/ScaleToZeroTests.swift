import Foundation
import KubernetesModel
import Testing

@testable import AutoscalerCore

/// Rule 5: activation, idle-for, scale to zero and back.
@Suite struct ScaleToZeroTests {
    /// A gateway queue (a fleet total), so that there is a reading at zero replicas.
    let toZero = policy(min: 0, signals: [queue(5, .value, activation: 0)], idleFor: 600)

    @Test func atZeroWithNoDemandItStaysAtZero() {
        let decision = decide(toZero, current: 0, [.value(0)])
        #expect(decision.desiredReplicas == 0)
        #expect(decision.limitedBy == .activation)
        #expect(condition(decision, "Active")?.reason == "ScaledToZero")
    }

    @Test func atZeroAtOrBelowActivationItStaysAtZero() {
        let gated = policy(min: 0, signals: [queue(5, .value, activation: 1)])
        // ceil(0.5 / 5) would be 1, but 0.5 is below the activation value.
        #expect(decide(gated, current: 0, [.value(0.5)]).desiredReplicas == 0)
        #expect(decide(gated, current: 0, [.value(1)]).desiredReplicas == 0)
        #expect(decide(gated, current: 0, [.value(1.5)]).desiredReplicas == 1)
    }

    @Test func demandAtZeroScalesUpAtOnce() {
        let one = decide(toZero, current: 0, [.value(3)])
        #expect(one.desiredReplicas == 1)
        #expect(condition(one, "Active")?.status == .true)
        let defaults = policy(min: 0, signals: [queue(5, .value)], behavior: PolicyDefaults.behavior)
        // 30 waiting asks 6; from 0 the Pods policy allows 4 and the Percent policy 0.
        #expect(decide(defaults, current: 0, [.value(30)]).desiredReplicas == 4)
    }

    @Test func activationIgnoresTheScaleUpWindowAndPercentOnlyPolicies() {
        let slow = ResolvedPolicy.ScalingRules(
            stabilizationWindow: 120, policies: [.init(type: .percent, value: 100, period: 60)], selectPolicy: .max)
        let behavior = ResolvedPolicy.Behavior(tolerance: 0.1, scaleUp: slow, scaleDown: unlimitedRules)
        let history = DecisionHistory(recommendations: [.init(time: at(-30), replicas: 0)])
        let decision = decide(
            policy(min: 0, signals: [queue(5, .value)], behavior: behavior), current: 0, [.value(3)], history: history)
        #expect(decision.desiredReplicas == 1)
    }

    @Test func missingDataAtZeroHoldsZero() {
        #expect(decide(toZero, current: 0, [.missing("down")]).desiredReplicas == 0)
    }

    @Test func idleForLessThanIdleForKeepsOneReplica() {
        let history = DecisionHistory(idleSince: at(-500))
        let decision = decide(toZero, current: 1, [.value(0)], history: history)
        #expect(decision.desiredReplicas == 1)
        #expect(decision.limitedBy == .idleFor)
        #expect(decision.history.idleSince == at(-500))
    }

    @Test func idleForTheWholeIdleForGoesToZero() {
        let history = DecisionHistory(idleSince: at(-600))
        let decision = decide(toZero, current: 1, [.value(0)], history: history)
        #expect(decision.desiredReplicas == 0)
        #expect(decision.limitedBy == .scaleToZero)
    }

    @Test func goingToZeroSkipsTheScaleDownWindowButNotTheRatePolicy() {
        let behavior = PolicyDefaults.behavior
        let defaults = policy(min: 0, signals: [queue(5, .value)], behavior: behavior)
        let history = DecisionHistory(
            recommendations: [.init(time: at(-100), replicas: 1)], idleSince: at(-900))
        #expect(decide(defaults, current: 1, [.value(0)], history: history).desiredReplicas == 0)
        // From 3, one pod per 2 minutes.
        let fromThree = decide(defaults, current: 3, [.value(0)], history: history)
        #expect(fromThree.desiredReplicas == 2)
        #expect(fromThree.limitedBy == .scaleDownRate)
    }

    @Test func theIdleTimerStartsAndResets() {
        let started = decide(toZero, current: 2, [.value(0)])
        #expect(started.history.idleSince == t0)
        let busy = decide(toZero, current: 2, [.value(4)], history: started.history, now: at(15))
        #expect(busy.history.idleSince == nil)
        let blind = decide(toZero, current: 2, [.missing("down")], history: started.history, now: at(15))
        #expect(blind.history.idleSince == nil)
    }

    @Test func podsStillLoadingAreNotScaledToZero() {
        let history = DecisionHistory(idleSince: at(-900))
        let decision = decide(
            policy(min: 0, signals: [queue(5, .value)], startup: 90), current: 1, ready: 0,
            pods: startingPods(1, createdAt: at(-20)), [.value(0)], history: history)
        #expect(decision.desiredReplicas == 1)
    }

    @Test func anOpenScheduleWindowIsNotIdle() throws {
        let always = try ResolvedPolicy.Schedule(
            name: "always", timeZone: #require(TimeZone(identifier: "UTC")), start: CronSchedule(parsing: "0 0 1 1 *"),
            end: CronSchedule(parsing: "0 0 31 12 *"), minReplicas: 2)
        let scheduled = policy(min: 0, signals: [queue(5, .value)], schedules: [always])
        let decision = decide(scheduled, current: 2, [.value(0)], history: DecisionHistory(idleSince: at(-9000)))
        #expect(decision.desiredReplicas == 2)
        #expect(decision.history.idleSince == nil)
        #expect(decision.limitedBy == .schedule("always"))
    }
}
