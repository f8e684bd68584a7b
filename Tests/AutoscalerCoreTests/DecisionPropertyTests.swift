import Foundation
import KubernetesModel
import Testing

@testable import AutoscalerCore

/// Properties over random inputs: bounds, no scale-down on missing data, monotone in load, deterministic.
@Suite struct DecisionPropertyTests {
    struct Scenario {
        var policy: ResolvedPolicy
        var observed: ObservedScale
        var samples: [SignalSample]
        var history: DecisionHistory
        var now: Date

        func decide() -> ScalingDecision {
            ScalingDecider.decide(policy: policy, observed: observed, samples: samples, history: history, now: now)
        }
    }

    static func scenario(_ rng: inout SplitMix64) -> Scenario {
        func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
        func double(_ range: ClosedRange<Double>) -> Double { Double.random(in: range, using: &rng) }
        func chance(_ p: Double) -> Bool { double(0...1) < p }

        let minimum = int(0...3)
        let maximum = max(1, minimum + int(0...20))
        var signals: [ResolvedPolicy.Signal] = [
            .init(
                type: .queueDepth, target: double(1...10), targetType: chance(0.3) ? .value : .averageValue,
                activation: chance(0.5) ? 0 : double(0...2))
        ]
        if chance(0.5) { signals.append(.init(type: .kvCacheUtilization, target: double(0.5...0.95))) }
        if chance(0.4) {
            signals.append(.init(type: .timeToFirstToken, target: double(0.2...2), quantile: 0.95, window: 60))
        }
        if chance(0.3) { signals.append(.init(type: .runningRequests, target: double(4...64))) }
        func rules() -> ResolvedPolicy.ScalingRules {
            .init(
                stabilizationWindow: [0, 30, 300][int(0...2)],
                policies: [
                    .init(type: chance(0.5) ? .pods : .percent, value: int(1...100), period: [15, 60, 120][int(0...2)])
                ],
                selectPolicy: [.max, .min, .disabled][int(0...2)])
        }
        let behavior =
            chance(0.3)
            ? PolicyDefaults.behavior : .init(tolerance: double(0...0.3), scaleUp: rules(), scaleDown: rules())
        let policy = ResolvedPolicy(
            minReplicas: minimum, maxReplicas: maximum, signals: signals, behavior: behavior,
            scaleToZeroIdleFor: minimum == 0 ? [0, 60, 600][int(0...2)] : nil,
            expectedStartup: chance(0.5) ? double(10...300) : nil,
            fallback: chance(0.5) ? .init(replicas: int(0...maximum), afterFailures: int(1...3)) : nil)

        let now = t0.addingTimeInterval(double(0...100_000))
        let current = int(0...25)
        let ready = int(0...current)
        let pods = (0..<(current - ready)).map {
            ObservedPod(name: "p\($0)", createdAt: now.addingTimeInterval(-double(0...900)), ready: false)
        }
        let samples: [SignalSample] = signals.map { _ in
            switch int(0...9) {
            case 0: .missing("unreachable")
            case 1: .value(.nan)
            case 2: .value(0)
            default: .value(double(0...60))
            }
        }
        let history = DecisionHistory(
            recommendations: (0..<int(0...6)).map { _ in
                .init(time: now.addingTimeInterval(-double(0...400)), replicas: int(0...30))
            }
            .sorted { $0.time < $1.time },
            scaleEvents: (0..<int(0...3)).map { _ in
                .init(time: now.addingTimeInterval(-double(0...200)), change: int(-4...4))
            }
            .sorted { $0.time < $1.time },
            consecutiveFailures: int(0...4),
            idleSince: chance(0.5) ? now.addingTimeInterval(-double(0...1200)) : nil)
        return Scenario(
            policy: policy, observed: ObservedScale(desiredReplicas: current, readyReplicas: ready, pods: pods),
            samples: samples, history: history, now: now)
    }

    static let cases = 3000

    @Test func neverOutsideMinAndMax() {
        var rng = SplitMix64(seed: 1)
        for _ in 0..<Self.cases {
            let s = Self.scenario(&rng)
            let desired = s.decide().desiredReplicas
            #expect(desired <= s.policy.maxReplicas)
            // Zero is allowed only when the policy scales to zero.
            #expect(desired >= s.policy.minReplicas)
            if s.policy.minReplicas > 0 { #expect(desired > 0) }
        }
    }

    @Test func neverBelowCurrentWhileASignalIsMissing() {
        var rng = SplitMix64(seed: 2)
        var checked = 0
        for _ in 0..<Self.cases {
            let s = Self.scenario(&rng)
            let missing = s.samples.contains { sample in
                if case .value(let v) = sample { return v.isNaN }
                return true
            }
            guard missing else { continue }
            checked += 1
            let current = s.observed.desiredReplicas
            #expect(s.decide().desiredReplicas >= min(current, s.policy.maxReplicas))
        }
        #expect(checked > 100)
    }

    @Test func moreLoadNeverGivesFewerReplicas() {
        var rng = SplitMix64(seed: 3)
        for _ in 0..<Self.cases {
            let s = Self.scenario(&rng)
            let factor = Double.random(in: 1...5, using: &rng)
            var heavier = s
            heavier.samples = s.samples.map { sample in
                if case .value(let v) = sample, v.isFinite { return .value(v * factor + 0.5) }
                return sample
            }
            let base = s.decide().desiredReplicas
            let more = heavier.decide().desiredReplicas
            #expect(more >= base, "load × \(factor) gave \(more) < \(base)")
        }
    }

    @Test func theSameInputsGiveTheSameOutput() throws {
        var rng = SplitMix64(seed: 4)
        for _ in 0..<500 {
            let s = Self.scenario(&rng)
            let first = s.decide()
            #expect(first == s.decide())
            // And again after the history went through its status encoding.
            var replay = s
            replay.history = try JSONDecoder().decode(DecisionHistory.self, from: JSONEncoder().encode(s.history))
            #expect(replay.decide().desiredReplicas == first.desiredReplicas)
        }
    }
}
