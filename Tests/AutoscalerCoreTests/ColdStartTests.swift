import Foundation
import KubernetesModel
import Testing

@testable import AutoscalerCore

/// Rule 4: pods that exist but are not ready yet are capacity in flight.
@Suite struct ColdStartTests {
    let loading = policy(behavior: PolicyDefaults.behavior, startup: 90)

    @Test func aBacklogTheStartingPodsWillAbsorbDoesNotOrderMorePods() {
        // Round 1: 2 ready, 15 waiting each (30 in all): 6 replicas.
        let first = decide(loading, current: 2, [.value(15)])
        #expect(first.desiredReplicas == 6)
        // Round 2: the 4 new pods are loading; the backlog grew to 45 because only 2 serve. HPA would ask 9.
        let second = decide(
            loading, current: 6, ready: 2, pods: startingPods(4, createdAt: t0), [.value(22.5)],
            history: first.history, now: at(15))
        #expect(second.signals[0].recommendation == 6)
        #expect(second.desiredReplicas == 6)
        #expect(second.limitedBy == .coldStart)
    }

    @Test func demandFarBeyondTheCapacityInFlightStillScalesUp() {
        let first = decide(loading, current: 2, [.value(15)])
        // 80 waiting per ready replica asks 32 replicas: at least twice the 6 in flight, so it is new load.
        let second = decide(
            loading, current: 6, ready: 2, pods: startingPods(4, createdAt: t0), [.value(80)],
            history: first.history, now: at(20))
        #expect(second.signals[0].recommendation == 32)
        // One step from 6 (the +4 at t0 is outside the 15 s period): max(6 + 4, 6 × 2) = 12.
        #expect(second.desiredReplicas == 12)
        #expect(second.limitedBy == .scaleUpRate)
    }

    @Test func startingPodsAreNotRemoved() {
        let decision = decide(loading, current: 6, ready: 2, pods: startingPods(4, createdAt: at(-30)), [.value(0)])
        #expect(decision.desiredReplicas == 6)
        #expect(decision.limitedBy == .coldStart)
        let fast = policy(startup: 90)
        #expect(
            decide(fast, current: 6, ready: 2, pods: startingPods(4, createdAt: at(-30)), [.value(0)]).desiredReplicas
                == 6)
    }

    @Test func stuckPodsAreNeitherCapacityNorProtected() {
        // Not ready 10 minutes after creation with a 90 s cold start: stuck.
        let fast = policy(startup: 90)
        let idle = decide(fast, current: 6, ready: 2, pods: startingPods(4, createdAt: at(-600)), [.value(0)])
        #expect(idle.desiredReplicas == 1)
        let busy = decide(fast, current: 6, ready: 2, pods: startingPods(4, createdAt: at(-600)), [.value(22.5)])
        #expect(busy.desiredReplicas == 9)
    }

    @Test func podsNotYetCreatedAfterAScaleUpAreInFlight() {
        let history = DecisionHistory(scaleEvents: [.init(time: at(-5), change: 4)])
        let decision = decide(loading, current: 6, ready: 2, [.value(22.5)], history: history)
        #expect(decision.desiredReplicas == 6)
        #expect(decision.limitedBy == .coldStart)
    }

    @Test func podsThatNeverAppearedAreNotInFlightForever() {
        // Asked for 6 long ago, only 2 exist (a quota, say): the shortfall is not capacity.
        let fast = policy(startup: 90)
        #expect(decide(fast, current: 6, ready: 2, [.value(22.5)]).desiredReplicas == 9)
    }

    @Test func theColdStartIsLearnedFromReadyPods() {
        let pods = readyPods(3, startupSeconds: 300, readyAt: at(-1000))
        let decision = decide(policy(), current: 3, pods: pods, [.value(5)])
        #expect(decision.history.learnedStartupSeconds == 300)
        // Learned 300 s: a pod loading for 400 s is still in flight (stuck only after 600 s).
        let later = decide(
            policy(), current: 5, ready: 3, pods: pods + startingPods(2, createdAt: at(-400)), [.value(0)],
            history: decision.history)
        #expect(later.desiredReplicas == 5)
        #expect(later.limitedBy == .coldStart)
    }

    @Test func theLearnedColdStartIsTheMedianOfTheFiveMostRecent() {
        let pods = [100.0, 110, 400, 120, 9000, 130].enumerated().map { index, seconds in
            ObservedPod(
                name: "p\(index)", createdAt: at(Double(index) * 10 - seconds), ready: true,
                readySince: at(Double(index) * 10))
        }
        // The five most recent are 110, 400, 120, 9000, 130: median 130.
        #expect(ScalingDecider.learnedStartup(from: pods) == 130)
        #expect(ScalingDecider.learnedStartup(from: startingPods(2, createdAt: t0)) == nil)
    }

    @Test func theSpecsExpectedDurationOverridesWhatWasLearned() {
        let history = DecisionHistory(learnedStartupSeconds: 1000)
        // Told 60 s: pods loading for 200 s are stuck, so 0 waiting may scale down.
        let decision = decide(
            policy(startup: 60), current: 5, ready: 3, pods: startingPods(2, createdAt: at(-200)), [.value(0)],
            history: history)
        #expect(decision.desiredReplicas == 1)
    }
}
