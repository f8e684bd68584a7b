import Foundation

/// A request inside the simulated fleet.
struct SimulatedRequest {
    /// Its position in the arrival order (conservation checks use it).
    var sequence: Int = 0
    var arrival: Double
    var input: Int
    var output: Int
    var prefilled = 0
    /// When the first output token came out.
    var firstToken: Double?
    /// The engine step (counted per replica) that yields its last token.
    var finishStep = 0
    var firstTokenStep = 0
}

/// One replica's continuous-batching engine, advanced one engine step at a time.
///
/// A step costs O(requests whose prompt is being prefilled + requests that finish) rather than O(running): a
/// decoding request gains one token per step, so its last step is known when its prompt completes and the decoding
/// set is a heap ordered by that step.
struct ReplicaModel {
    let profile: PodProfile
    /// The simulated time this replica's engine has reached.
    var clock: Double
    /// Steps completed.
    private(set) var steps = 0
    /// Admitted requests whose prompt is not fully prefilled yet, oldest first.
    private var prefilling: [SimulatedRequest] = []
    private var prefillHead = 0
    private var decoding = FinishHeap()
    /// Sum over decoding requests of the step of their first token (their generated tokens follow from it).
    private var firstTokenStepSum = 0
    private var inputTokens = 0
    /// Prompt tokens the step in progress prefills (set by `beginStep`).
    private var plannedPrefill = 0
    /// Prompt tokens admitted and not yet prefilled.
    private(set) var pendingPrefillTokens = 0
    /// Output tokens the last step produced.
    private(set) var lastStepTokens = 0
    /// TTFTs of the requests that got their first token since the caller last emptied this.
    var firstTokenLatencies: [Double] = []

    init(profile: PodProfile, readyAt: Double) {
        self.profile = profile
        self.clock = readyAt
    }

    var runningCount: Int { prefilling.count - prefillHead + decoding.count }
    var isIdle: Bool { runningCount == 0 }

    /// KV-cache tokens held: every running request's prompt and the tokens generated so far.
    var kvUsed: Int { inputTokens + decoding.count * (steps + 1) - firstTokenStepSum }

    /// Whether `request` fits now: a sequence slot, and KV cache for its prompt.
    func fits(_ request: SimulatedRequest) -> Bool {
        runningCount < profile.maxNumSeqs && kvUsed + request.input <= profile.kvCacheTokens
    }

    mutating func admit(_ request: SimulatedRequest) {
        inputTokens += request.input
        pendingPrefillTokens += request.input
        prefilling.append(request)
    }

    /// Starts a step: plans the prefill within the token budget (oldest prompt first, chunked) and returns the
    /// step's duration.
    mutating func beginStep() -> Double {
        var budget = profile.maxBatchedTokens
        var planned = 0
        var index = prefillHead
        while budget > 0 && index < prefilling.count {
            let chunk = min(prefilling[index].input - prefilling[index].prefilled, budget)
            planned += chunk
            budget -= chunk
            index += 1
        }
        plannedPrefill = planned
        return profile.stepBase + profile.stepPerSequence * Double(runningCount)
            + Double(planned) / profile.prefillTokensPerSecond
    }

    /// Ends the step begun last, at `time`: prompts advance, every decoding request gains a token. Returns the
    /// requests that finished.
    mutating func endStep(at time: Double) -> [SimulatedRequest] {
        clock = time
        steps += 1
        var budget = plannedPrefill
        pendingPrefillTokens -= plannedPrefill
        plannedPrefill = 0
        while budget > 0 && prefillHead < prefilling.count {
            var request = prefilling[prefillHead]
            let chunk = min(request.input - request.prefilled, budget)
            request.prefilled += chunk
            budget -= chunk
            guard request.prefilled >= request.input else {
                prefilling[prefillHead] = request
                break
            }
            // The step that completes a prompt also yields its first token.
            request.firstToken = time
            request.firstTokenStep = steps
            request.finishStep = steps + max(1, request.output) - 1
            firstTokenStepSum += steps
            firstTokenLatencies.append(time - request.arrival)
            decoding.push(request)
            prefillHead += 1
        }
        if prefillHead > 64 && prefillHead * 2 > prefilling.count {
            prefilling.removeFirst(prefillHead)
            prefillHead = 0
        }
        lastStepTokens = decoding.count
        var finished: [SimulatedRequest] = []
        while let next = decoding.min, next.finishStep <= steps {
            let request = decoding.pop()
            firstTokenStepSum -= request.firstTokenStep
            inputTokens -= request.input
            finished.append(request)
        }
        return finished
    }

    /// One whole step (for calibration): begin, then end after its duration.
    mutating func step() -> [SimulatedRequest] {
        guard !isIdle else { return [] }
        let duration = beginStep()
        return endStep(at: clock + duration)
    }
}

/// A binary min-heap of requests by their finishing step.
struct FinishHeap {
    private var items: [SimulatedRequest] = []

    var count: Int { items.count }
    var min: SimulatedRequest? { items.first }

    mutating func push(_ request: SimulatedRequest) {
        items.append(request)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].finishStep < items[parent].finishStep else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> SimulatedRequest {
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < items.count && items[left].finishStep < items[smallest].finishStep { smallest = left }
                if right < items.count && items[right].finishStep < items[smallest].finishStep { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}
