import Foundation
import Testing

@testable import Simulator

/// The pod model against the published figures it is calibrated to (shared/traces/README.md).
@Suite struct ReplicaModelTests {
    /// Requests per second of one replica kept saturated (a closed loop that refills it at every step).
    static func saturatedThroughput(_ profile: PodProfile, input: Int, output: Int, steps: Int = 3000) -> Double {
        var replica = ReplicaModel(profile: profile, readyAt: 0)
        var completed = 0
        var measuredFrom = 0.0
        for step in 0..<steps {
            let template = SimulatedRequest(arrival: replica.clock, input: input, output: output)
            while replica.fits(template) { replica.admit(template) }
            let finished = replica.step()
            if step == steps / 3 { measuredFrom = replica.clock }
            if step > steps / 3 { completed += finished.count }
        }
        return Double(completed) / (replica.clock - measuredFrom)
    }

    @Test(arguments: [
        (PodProfile.llama3_8b_h100, 37.0), (.llama3_8b_a100, 19.0), (.llama3_70b_4xh100, 17.0),
    ])
    func maximumShareGPTThroughputMatchesThePublishedFigure(_ profile: PodProfile, _ published: Double) {
        // ShareGPT: 202 input and 179 output tokens on average.
        let modelled = Self.saturatedThroughput(profile, input: 202, output: 179)
        #expect(abs(modelled / published - 1) <= 0.15, "\(profile.name): \(modelled) req/s vs \(published)")
    }

    @Test func prefillHeavyLoadOnAnH100() {
        // 462 in / 16 out: ≈ 59 req/s published.
        let modelled = Self.saturatedThroughput(.llama3_8b_h100, input: 462, output: 16, steps: 1500)
        #expect(abs(modelled / 59 - 1) <= 0.15, "\(modelled)")
    }

    @Test func aLoneRequestIsFastAndEveryRequestFinishesOnce() {
        var replica = ReplicaModel(profile: .llama3_8b_h100, readyAt: 10)
        replica.admit(SimulatedRequest(arrival: 10, input: 1000, output: 20))
        var finished: [SimulatedRequest] = []
        while !replica.isIdle { finished += replica.step() }
        #expect(finished.count == 1)
        #expect(finished[0].finishStep - finished[0].firstTokenStep + 1 == 20)
        // TTFT of a lone 1,000-token prompt: one step with its prefill, well under 0.1 s (vLLM's < 0.1 s at low load).
        let ttft = (finished[0].firstToken ?? .infinity) - 10
        #expect(ttft > 0 && ttft < 0.1)
        #expect(replica.kvUsed == 0)
    }

    @Test func aFullKVCacheQueuesNewRequests() {
        var profile = PodProfile.llama3_8b_h100
        profile.kvCacheTokens = 3000
        var replica = ReplicaModel(profile: profile, readyAt: 0)
        let request = SimulatedRequest(arrival: 0, input: 1000, output: 10)
        replica.admit(request)
        replica.admit(request)
        _ = replica.step()
        // Both prompts and their first tokens are held: 2,002 of 3,000; a third 1,000-token prompt does not fit.
        #expect(replica.kvUsed == 2002)
        #expect(!replica.fits(request))
    }
}
