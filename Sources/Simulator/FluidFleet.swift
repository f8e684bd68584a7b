import Foundation

/// The fleet as fluid cohorts, for traces too long to replay request by request (a 14-day ServeGen trace is
/// hundreds of millions of requests). Time advances in ticks; each tick's arrivals are one cohort that waits FIFO at
/// the gateway and is admitted where replicas have room. Each replica runs the same step model as `ReplicaModel`
/// (step = base + per-sequence × running + prefilled tokens / prefill speed) with averages instead of individuals:
/// per step it prefills up to one token budget and gives every decoding request a token, so a request leaves after
/// its mean output length in steps.
struct FluidFleet: FleetModel {
    struct Cohort {
        var arrival: Double
        var count: Double
        var input: Double
        var output: Double
    }

    struct Replica {
        let id: Int
        let readyAt: Double
        var draining = false
        /// Requests whose prompt is still being prefilled, and the prompt tokens left.
        var prefilling = 0.0
        var backlog = 0.0
        var decoding = 0.0
        /// Mean prompt and output tokens of what the replica holds.
        var input = 0.0
        var output = 1.0

        var running: Double { prefilling + decoding }
    }

    var stats: ServiceStats
    private let profile: PodProfile
    private let tick: Double
    private var arrivals: CohortSource
    private var queue: [Cohort] = []
    private var queueHead = 0
    private var replicas: [Replica] = []
    private var retired: [(id: Int, at: Double)] = []
    private var now = 0.0
    private var inService = 0.0

    static let defaultTick = 0.5

    init(arrivals: CohortSource, profile: PodProfile, sloTTFT: Double, tick: Double = defaultTick) {
        self.arrivals = arrivals
        self.profile = profile
        self.tick = tick
        self.stats = ServiceStats(sloTTFT: sloTTFT)
    }

    var waiting: Double { queue[queueHead...].reduce(0) { $0 + $1.count } }
    var inFlight: Double { waiting + replicas.reduce(0) { $0 + $1.running } }
    var arrivalsExhausted: Bool { arrivals.exhausted(after: now) }

    mutating func addReplica(id: Int, readyAt: Double) {
        replicas.append(Replica(id: id, readyAt: readyAt))
    }

    mutating func drain(id: Int) {
        guard let index = replicas.firstIndex(where: { $0.id == id }) else { return }
        replicas[index].draining = true
        if replicas[index].running < 1e-9 {
            retired.append((id, now))
            replicas.remove(at: index)
        }
    }

    mutating func takeRetired() -> [(id: Int, at: Double)] {
        defer { retired.removeAll() }
        return retired
    }

    func gauges(at time: Double) -> FleetGauges {
        var ready = 0
        var running = 0.0
        var kv = 0.0
        for replica in replicas where replica.readyAt <= time {
            ready += 1
            running += replica.running
            kv += kvTokens(replica) / Double(profile.kvCacheTokens)
        }
        return FleetGauges(time: time, readyPods: ready, waiting: waiting, running: running, kvUsageSum: kv)
    }

    private func kvTokens(_ replica: Replica) -> Double {
        replica.prefilling * replica.input + replica.decoding * (replica.input + replica.output / 2)
    }

    /// Requests a replica can hold: sequence slots, and KV cache for prompts plus half their output on average.
    private func capacity(input: Double, output: Double) -> Double {
        min(Double(profile.maxNumSeqs), Double(profile.kvCacheTokens) / max(1, input + output / 2))
    }

    private func stepTime(running: Double, prefill: Double) -> Double {
        profile.stepBase + profile.stepPerSequence * running + prefill / profile.prefillTokensPerSecond
    }

    mutating func advance(to time: Double) {
        while now + tick <= time + 1e-9 {
            step(from: now)
            now += tick
        }
    }

    private mutating func step(from start: Double) {
        let middle = start + tick / 2
        if let cohort = arrivals.cohort(from: start, duration: tick), cohort.count > 0 {
            queue.append(Cohort(arrival: middle, count: cohort.count, input: cohort.input, output: cohort.output))
            stats.arrive(cohort.count)
        }
        admit(at: middle)
        for index in replicas.indices where replicas[index].readyAt <= start {
            serve(index)
        }
        var index = 0
        while index < replicas.count {
            if replicas[index].draining && replicas[index].running < 1e-9 {
                retired.append((replicas[index].id, start + tick))
                replicas.remove(at: index)
            } else {
                index += 1
            }
        }
    }

    /// Waiting cohorts go, oldest first, to ready replicas in proportion to their free room.
    private mutating func admit(at time: Double) {
        while queueHead < queue.count {
            var cohort = queue[queueHead]
            let open = replicas.indices.filter { replicas[$0].readyAt <= time - tick / 2 && !replicas[$0].draining }
            let room = open.map { max(0, capacity(input: cohort.input, output: cohort.output) - replicas[$0].running) }
            let free = room.reduce(0, +)
            guard free > 1e-9 else { break }
            let taken = min(cohort.count, free)
            let wait = max(0, time - cohort.arrival)
            for (position, index) in open.enumerated() where room[position] > 0 {
                let share = taken * room[position] / free
                admitShare(share, of: cohort, to: index, wait: wait)
            }
            cohort.count -= taken
            if cohort.count <= 1e-9 {
                queueHead += 1
            } else {
                queue[queueHead] = cohort
                break
            }
        }
        if queueHead > 1024 && queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
    }

    private mutating func admitShare(_ share: Double, of cohort: Cohort, to index: Int, wait: Double) {
        var replica = replicas[index]
        // Prompts queue behind the replica's prefill backlog: the first of the share waits for the backlog, the
        // last for the backlog and the share's own prompts. Half the share is counted at each end.
        let running = replica.running + share
        let budget = Double(profile.maxBatchedTokens)
        let prefillRate = budget / stepTime(running: running, prefill: budget)
        let firstStep = stepTime(running: running, prefill: min(cohort.input, budget))
        let tokens = share * cohort.input
        let first = wait + replica.backlog / prefillRate + firstStep
        let last = wait + (replica.backlog + tokens) / prefillRate + firstStep
        stats.firstToken(after: first, count: share / 2)
        stats.firstToken(after: last, count: share / 2)
        stats.admitted(after: wait, promptTokens: tokens, count: share)
        let held = replica.running
        replica.input = (replica.input * held + cohort.input * share) / (held + share)
        replica.output = (replica.output * held + cohort.output * share) / (held + share)
        replica.prefilling += share
        replica.backlog += tokens
        replicas[index] = replica
    }

    /// One tick of engine steps on one replica.
    private mutating func serve(_ index: Int) {
        var replica = replicas[index]
        guard replica.running > 1e-9 else { return }
        // Steps that prefill take the token budget each; the rest of the tick is decode-only steps.
        let budget = Double(profile.maxBatchedTokens)
        let decodeStep = stepTime(running: replica.running, prefill: 0)
        let prefillSteps = (replica.backlog / budget).rounded(.up)
        let prefillTime = prefillSteps * decodeStep + replica.backlog / profile.prefillTokensPerSecond
        let steps: Double
        let prefilled: Double
        if prefillTime <= tick {
            prefilled = replica.backlog
            steps = prefillSteps + (tick - prefillTime) / decodeStep
        } else {
            steps = tick / stepTime(running: replica.running, prefill: budget)
            prefilled = min(replica.backlog, steps * budget)
        }
        let promptsDone = replica.backlog > 0 ? replica.prefilling * prefilled / replica.backlog : replica.prefilling
        replica.backlog -= prefilled
        replica.prefilling -= promptsDone
        let tokens = steps * replica.decoding
        let finished = min(replica.decoding, tokens / max(1, replica.output))
        replica.decoding += promptsDone - finished
        if replica.prefilling < 1e-9 {
            replica.prefilling = 0
            replica.backlog = 0
        }
        if replica.decoding < 1e-9 { replica.decoding = 0 }
        stats.generatedTokens += tokens + promptsDone
        stats.completed += finished
        stats.busySeconds += tick
        replicas[index] = replica
    }
}

/// Arrivals per interval for the fluid model: counts drawn so that their dispersion matches the trace's
/// inter-arrival CV, tokens at the window's means.
struct CohortSource {
    private var segments: [RateSegment]
    private var requests: [TraceRequest]
    private var requestIndex = 0
    private var segmentIndex = 0
    private var random: SeededRandom
    private let end: Double

    init(_ trace: Trace, options: ReplayOptions) {
        random = SeededRandom(seed: options.seed ^ 0xF1_D1D)
        let end = options.duration.map { options.start + $0 } ?? .infinity
        switch trace {
        case .requests:
            // Thinned or replicated exactly as the request-level replay does.
            requests = Array(RequestStream(trace, options: options))
            segments = []
            self.end = requests.last?.arrival ?? 0
        case .rates(let all):
            requests = []
            segments = all.compactMap { original in
                let from = max(original.start, options.start)
                let to = min(original.start + original.duration, end)
                guard to > from else { return nil }
                var clipped = original
                clipped.start = from - options.start
                clipped.duration = to - from
                clipped.requestsPerSecond *= options.rateScale
                return clipped
            }
            .sorted { $0.start < $1.start }
            self.end = segments.map { $0.start + $0.duration }.max() ?? 0
        }
    }

    func exhausted(after time: Double) -> Bool { time >= end }

    /// The arrivals in [start, start + duration).
    mutating func cohort(from start: Double, duration: Double) -> (count: Double, input: Double, output: Double)? {
        if !requests.isEmpty {
            var count = 0.0
            var input = 0.0
            var output = 0.0
            while requestIndex < requests.count && requests[requestIndex].arrival < start + duration {
                count += 1
                input += Double(requests[requestIndex].inputTokens)
                output += Double(max(1, requests[requestIndex].outputTokens))
                requestIndex += 1
            }
            return count > 0 ? (count, input / count, output / count) : nil
        }
        while segmentIndex < segments.count && segments[segmentIndex].start + segments[segmentIndex].duration <= start {
            segmentIndex += 1
        }
        guard segmentIndex < segments.count, segments[segmentIndex].start <= start else { return nil }
        let segment = segments[segmentIndex]
        let mean = segment.requestsPerSecond * duration
        guard mean > 0 else { return nil }
        // A renewal process with inter-arrival CV c has a count variance near c² × mean: a Poisson count around a
        // Gamma-distributed mean supplies the excess.
        let excess = segment.interArrivalCV * segment.interArrivalCV - 1
        let level = excess > 0 ? random.gamma(mean: mean, cv: (excess / mean).squareRoot()) : mean
        let count = Double(random.poisson(mean: level))
        return (count, segment.meanInputTokens, max(1, segment.meanOutputTokens))
    }
}
