import Foundation
import KubernetesModel
import Testing

@testable import AutoscalerCore

/// Rule 6: schedule floors, minReplicas, maxReplicas.
@Suite struct BoundsAndSchedulesTests {
    func businessHours() throws -> ResolvedPolicy.Schedule {
        try ResolvedPolicy.Schedule(
            name: "business-hours", timeZone: #require(TimeZone(identifier: "Europe/Amsterdam")),
            start: CronSchedule(parsing: "30 7 * * 1-5"), end: CronSchedule(parsing: "0 20 * * 1-5"), minReplicas: 3)
    }

    func instant(_ text: String) throws -> Date { try #require(Timestamp.parse(text)) }

    @Test(arguments: [
        ("2026-11-23T06:29:00Z", false),  // Monday 07:29 CET
        ("2026-11-23T06:30:00Z", true),  // Monday 07:30 CET: opens
        ("2026-11-23T12:00:00Z", true),
        ("2026-11-23T18:59:59Z", true),
        ("2026-11-23T19:00:00Z", false),  // 20:00 CET: closes
        ("2026-11-28T12:00:00Z", false),  // Saturday
        ("2026-06-15T05:45:00Z", true),  // Monday 07:45 CEST (UTC+2)
        ("2026-06-15T05:15:00Z", false),  // Monday 07:15 CEST
    ])
    func theWindowFollowsLocalTime(_ time: String, _ open: Bool) throws {
        #expect(try businessHours().isActive(at: instant(time)) == open)
    }

    @Test func anOpenWindowRaisesTheCountAtOnce() throws {
        let scheduled = policy(behavior: PolicyDefaults.behavior, schedules: [try businessHours()])
        let decision = decide(scheduled, current: 1, [.value(0)], now: try instant("2026-11-23T08:00:00Z"))
        #expect(decision.desiredReplicas == 3)
        #expect(decision.limitedBy == .schedule("business-hours"))
        let evening = decide(scheduled, current: 1, [.value(0)], now: try instant("2026-11-23T20:00:00Z"))
        #expect(evening.desiredReplicas == 1)
    }

    @Test func theHighestOpenFloorWins() throws {
        let night = try ResolvedPolicy.Schedule(
            name: "batch", timeZone: #require(TimeZone(identifier: "UTC")), start: CronSchedule(parsing: "0 22 * * *"),
            end: CronSchedule(parsing: "0 6 * * *"), minReplicas: 5)
        let both = policy(schedules: [try businessHours(), night])
        // A window that crosses midnight is open at 02:00.
        let decision = decide(both, current: 1, [.value(0)], now: try instant("2026-11-24T02:00:00Z"))
        #expect(decision.desiredReplicas == 5)
        #expect(decision.limitedBy == .schedule("batch"))
    }

    @Test func signalsAboveTheFloorStillDecide() throws {
        let scheduled = policy(schedules: [try businessHours()])
        let decision = decide(scheduled, current: 3, [.value(20)], now: try instant("2026-11-23T08:00:00Z"))
        #expect(decision.desiredReplicas == 12)
        #expect(decision.limitedBy == .signal("QueueDepth"))
    }

    @Test func maxReplicasCapsTheSignals() {
        let decision = decide(policy(max: 8), current: 4, [.value(50)])
        #expect(decision.desiredReplicas == 8)
        #expect(decision.limitedBy == .maxReplicas)
        #expect(condition(decision, "ScalingLimited")?.status == .true)
        #expect(condition(decision, "ScalingLimited")?.reason == "MaxReplicas")
    }

    @Test func minReplicasFloorsTheSignals() {
        let decision = decide(policy(min: 2), current: 4, [.value(0)])
        #expect(decision.desiredReplicas == 2)
        #expect(decision.limitedBy == .minReplicas)
    }

    @Test func boundsApplyAtOnceDespiteRatePolicies() {
        let defaults = policy(min: 3, max: 8, behavior: PolicyDefaults.behavior)
        #expect(decide(defaults, current: 12, [.value(5)]).desiredReplicas == 8)
        #expect(decide(defaults, current: 0, [.value(0)]).desiredReplicas == 3)
    }

    @Test(arguments: [0.0, 1, 5, 100])
    func minEqualToMaxPinsTheCount(_ load: Double) {
        #expect(decide(policy(min: 3, max: 3), current: 1, [.value(load)]).desiredReplicas == 3)
    }
}
