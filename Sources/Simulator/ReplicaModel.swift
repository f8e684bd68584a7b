import Foundation

/// A request inside the simulated fleet.
struct SimulatedRequest {
    var arrival: Double
    var input: Int
    var output: Int
    var prefilled = 0
    var generated = 0
    /// When the first output token came out.
    var firstToken: Double?
}

/// One replica's continuous-batching engine, advanced one engine step at a time.
struct ReplicaModel {
    let profile: PodProfile
    var running: [SimulatedRequest] = []
    var kvUsed = 0
    /// The simulated time this replica's engine has reached.
    var clock: Double

    init(profile: PodProfile, readyAt: Double) {
        self.profile = profile
        self.clock = readyAt
    }

    /// Whether `request` fits now: a sequence slot, and KV cache for its prompt.
    func fits(_ request: SimulatedRequest) -> Bool {
        running.count < profile.maxNumSeqs && kvUsed + request.input <= profile.kvCacheTokens
    }

    mutating func admit(_ request: SimulatedRequest) {
        kvUsed += request.input
        running.append(request)
    }

    /// One engine step: prefill within the token budget (oldest first, chunked), one token for every request whose
    /// prompt is done. Returns the requests that finished.
    mutating func step() -> [SimulatedRequest] {
        guard !running.isEmpty else { return [] }
        var budget = profile.maxBatchedTokens
        var prefilled = 0
        for index in running.indices {
            let remaining = running[index].input - running[index].prefilled
            if remaining > 0 {
                let chunk = min(remaining, budget)
                running[index].prefilled += chunk
                budget -= chunk
                prefilled += chunk
            }
        }
        let duration =
            profile.stepBase + profile.stepPerSequence * Double(running.count)
            + Double(prefilled) / profile.prefillTokensPerSecond
        clock += duration
        var finished: [SimulatedRequest] = []
        var kept: [SimulatedRequest] = []
        kept.reserveCapacity(running.count)
        for var request in running {
            if request.prefilled >= request.input {
                // The step that completes a prompt also yields its first token.
                request.generated += 1
                kvUsed += 1
                if request.firstToken == nil { request.firstToken = clock }
            }
            if request.generated >= request.output {
                kvUsed -= request.input + request.generated
                finished.append(request)
            } else {
                kept.append(request)
            }
        }
        running = kept
        return finished
    }
}
