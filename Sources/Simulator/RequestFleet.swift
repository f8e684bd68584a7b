import Foundation

/// The fleet request by request: a discrete-event simulation of a gateway queue and continuous-batching replicas.
///
/// Requests wait at one FIFO gateway. A replica takes the oldest waiting request when it has a sequence slot, KV
/// cache for the prompt, and less than one step's token budget of prompts still to prefill (a gateway that routes to
/// replicas with free capacity, so one replica does not hoard a burst its peers could serve). Idle replicas take
/// work at once; busy ones at their next step boundary, as vLLM's scheduler does.
struct RequestFleet: FleetModel {
    struct Replica {
        let id: Int
        let readyAt: Double
        var draining = false
        var engine: ReplicaModel
        /// When the step in progress ends; nil while idle.
        var stepEnd: Double?
        /// This replica's own counters, as its `/metrics` would show them.
        var ttftBucketCounts = [Double](repeating: 0, count: TTFTBuckets.bounds.count + 1)
        var ttftSum = 0.0
        var generatedTokens = 0.0
        var promptTokens = 0.0
        var queueBucketCounts = [Double](repeating: 0, count: QueueTimeBuckets.bounds.count + 1)
        var queueSum = 0.0
    }

    var stats: ServiceStats
    private var stream: RequestStream
    private var nextArrival: TraceRequest?
    private let profile: PodProfile
    private var sequence = 0
    private var queue: [SimulatedRequest] = []
    private var queueHead = 0
    private var replicas: [Replica] = []
    private var retired: [(id: Int, at: Double)] = []
    private var now = 0.0
    /// Every finished request in finishing order, when asked for (conservation tests).
    private(set) var finishedLog: [(request: SimulatedRequest, finishedAt: Double)]?

    init(stream: RequestStream, profile: PodProfile, sloTTFT: Double, keepFinished: Bool = false) {
        self.stream = stream
        self.profile = profile
        self.stats = ServiceStats(sloTTFT: sloTTFT)
        self.nextArrival = self.stream.next()
        self.finishedLog = keepFinished ? [] : nil
    }

    var waiting: Int { queue.count - queueHead }
    var inFlight: Double { Double(waiting + replicas.reduce(0) { $0 + $1.engine.runningCount }) }
    var arrivalsExhausted: Bool { nextArrival == nil }

    mutating func addReplica(id: Int, readyAt: Double) {
        replicas.append(Replica(id: id, readyAt: readyAt, engine: ReplicaModel(profile: profile, readyAt: readyAt)))
    }

    mutating func drain(id: Int) {
        guard let index = replicas.firstIndex(where: { $0.id == id }) else { return }
        replicas[index].draining = true
        if replicas[index].stepEnd == nil {
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
            running += Double(replica.engine.runningCount)
            kv += Double(replica.engine.kvUsed) / Double(profile.kvCacheTokens)
        }
        return FleetGauges(time: time, readyPods: ready, waiting: Double(waiting), running: running, kvUsageSum: kv)
    }

    /// One replica as its engine's `/metrics` shows it at `time` (the gateway's queue is shared over ready replicas).
    struct ReplicaSnapshot: Equatable {
        var id: Int
        var ready: Bool
        var waiting: Double
        var running: Int
        /// 0–1.
        var kvUsage: Double
        /// Cumulative per `TTFTBuckets` bucket (`le`), then `+Inf`.
        var ttftBuckets: [Double]
        var ttftSum: Double
        var generatedTokens: Double
        var promptTokens: Double
        /// Cumulative per `QueueTimeBuckets` bucket, then `+Inf`.
        var queueBuckets: [Double]
        var queueSum: Double
    }

    /// Every replica that holds a GPU (loading, ready, draining), for a live fleet that exports per-pod metrics.
    func snapshots(at time: Double) -> [ReplicaSnapshot] {
        let ready = replicas.filter { $0.readyAt <= time && !$0.draining }.count
        return replicas.map { replica in
            var running = 0.0
            let cumulative = replica.ttftBucketCounts.map { count in
                running += count
                return running
            }
            let isReady = replica.readyAt <= time
            return ReplicaSnapshot(
                id: replica.id, ready: isReady,
                waiting: isReady && !replica.draining && ready > 0 ? Double(waiting) / Double(ready) : 0,
                running: replica.engine.runningCount,
                kvUsage: Double(replica.engine.kvUsed) / Double(profile.kvCacheTokens), ttftBuckets: cumulative,
                ttftSum: replica.ttftSum, generatedTokens: replica.generatedTokens,
                promptTokens: replica.promptTokens, queueBuckets: ServiceStats.cumulative(replica.queueBucketCounts),
                queueSum: replica.queueSum)
        }
    }

    mutating func advance(to time: Double) {
        while true {
            let arrival = nextArrival?.arrival ?? .infinity
            var stepEnd = Double.infinity
            var stepper = -1
            var readiness = Double.infinity
            for index in replicas.indices {
                if let end = replicas[index].stepEnd, end < stepEnd {
                    stepEnd = end
                    stepper = index
                } else if waiting > 0, replicas[index].readyAt > now, replicas[index].readyAt < readiness {
                    readiness = replicas[index].readyAt
                }
            }
            let next = min(arrival, stepEnd, readiness)
            guard next <= time else { break }
            now = next
            if next == stepEnd {
                endStep(stepper)
            } else if next == arrival, let request = nextArrival {
                sequence += 1
                let input = min(request.inputTokens, profile.kvCacheTokens - max(1, request.outputTokens))
                queue.append(
                    SimulatedRequest(
                        sequence: sequence, arrival: request.arrival, input: max(1, input),
                        output: max(1, request.outputTokens)))
                stats.arrive()
                nextArrival = stream.next()
                dispatchToIdle()
            } else {
                dispatchToIdle()
            }
        }
        now = max(now, time)
    }

    private mutating func endStep(_ index: Int) {
        let end = replicas[index].stepEnd ?? now
        replicas[index].stepEnd = nil
        let finished = replicas[index].engine.endStep(at: end)
        for latency in replicas[index].engine.firstTokenLatencies {
            stats.firstToken(after: latency)
            replicas[index].ttftBucketCounts[TTFTBuckets.index(of: latency)] += 1
            replicas[index].ttftSum += latency
        }
        replicas[index].generatedTokens += Double(replicas[index].engine.lastStepTokens)
        replicas[index].engine.firstTokenLatencies.removeAll(keepingCapacity: true)
        stats.generatedTokens += Double(replicas[index].engine.lastStepTokens)
        stats.completed += Double(finished.count)
        if finishedLog != nil { for request in finished { finishedLog!.append((request, end)) } }
        if !replicas[index].draining { admit(index) }
        if replicas[index].engine.isIdle {
            if replicas[index].draining {
                retired.append((replicas[index].id, end))
                replicas.remove(at: index)
            }
        } else {
            begin(index)
        }
    }

    /// Idle ready replicas take waiting requests, least recently idle first.
    private mutating func dispatchToIdle() {
        guard waiting > 0 else { return }
        for index in replicas.indices
        where replicas[index].stepEnd == nil && !replicas[index].draining && replicas[index].readyAt <= now {
            admit(index)
            if !replicas[index].engine.isIdle { begin(index) }
            if waiting == 0 { break }
        }
    }

    private mutating func admit(_ index: Int) {
        while queueHead < queue.count {
            let request = queue[queueHead]
            guard replicas[index].engine.fits(request),
                replicas[index].engine.pendingPrefillTokens < profile.maxBatchedTokens
            else { break }
            replicas[index].engine.admit(request)
            let wait = max(0, now - request.arrival)
            stats.admitted(after: wait, promptTokens: Double(request.input))
            replicas[index].promptTokens += Double(request.input)
            replicas[index].queueBucketCounts[QueueTimeBuckets.index(of: wait)] += 1
            replicas[index].queueSum += wait
            queueHead += 1
        }
        if queueHead > 1024 && queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
    }

    private mutating func begin(_ index: Int) {
        let start = max(now, replicas[index].engine.clock)
        let duration = replicas[index].engine.beginStep()
        stats.busySeconds += duration
        replicas[index].stepEnd = start + duration
    }
}
