import Foundation

/// A fixed replica count: what a team without an autoscaler deploys.
public struct StaticScaler: FleetScaler {
    public let replicas: Int
    public var name: String { "static(\(replicas))" }
    public var syncPeriod: Double { 3600 }
    public var initialReplicas: Int { replicas }

    public init(replicas: Int) {
        self.replicas = replicas
    }

    public func sync(_ observation: FleetObservation) -> (replicas: Int, reason: String) {
        (replicas, "static")
    }
}

/// The clairvoyant reference. It knows every arrival in advance and the cold start. Each request costs the
/// replica-seconds the profile's step model spends on it at its largest batch for that second's token mix (its
/// saturated throughput). A second needs enough replicas that, for every window of 1 to 60 s starting or ending
/// there, the window's work fits in the window plus half the TTFT SLO (a burst may queue, with room for its
/// prefill). The schedule keeps, at every moment, the most any second needs from now until one cold start ahead,
/// so that new pods are Ready exactly when their second comes and pods leave as soon as no second within a cold
/// start needs them.
public struct OracleScaler: FleetScaler {
    /// Replicas to have at each second of the simulation.
    public let schedule: [Int]
    public var name: String { "oracle" }
    public var syncPeriod: Double { 1 }
    public var initialReplicas: Int { schedule.first ?? 1 }

    /// Warm replicas for a scaler that has been running before the trace starts: the most the first `seconds` need
    /// (as if the same traffic had come before, within a scale-down window's memory).
    public func warmStart(seconds: Int = 300) -> Int {
        schedule.prefix(seconds).max() ?? 1
    }

    public init(schedule: [Int]) {
        self.schedule = schedule
    }

    /// The schedule for a trace replayed with `options`: the same requests (same seed) the simulation will see.
    public static func plan(
        trace: Trace, options: SimulationOptions, minReplicas: Int = 1, maxReplicas: Int = 10_000
    ) -> OracleScaler {
        plan(
            work: workPerSecond(trace: trace, options: options), options: options, minReplicas: minReplicas,
            maxReplicas: maxReplicas)
    }

    /// The lower bound: the planned schedule, simulated, and raised where requests missed the SLO (by a quarter in
    /// every interval with misses and the minute before it, where their backlog began) until its attainment reaches
    /// `attainment` — the fewest GPU-hours of a schedule with hindsight that meets it, as near as this search gets.
    /// Returns the schedule and its simulation.
    public static func bound(
        trace: Trace, options: SimulationOptions, minReplicas: Int = 1, maxReplicas: Int = 10_000,
        attainment: Double = 0.99, rounds: Int = 12
    ) -> (OracleScaler, SimulationResult) {
        var work = workPerSecond(trace: trace, options: options)
        var scaler = plan(work: work, options: options, minReplicas: minReplicas, maxReplicas: maxReplicas)
        var copy = scaler
        var result = FleetSimulator.run(trace: trace, scaler: &copy, options: options)
        var round = 0
        while result.sloAttainment < attainment && round < rounds {
            round += 1
            let step = result.timeline.count > 1 ? result.timeline[1].time - result.timeline[0].time : 10
            for point in result.timeline where point.missed > 0 {
                let from = max(0, Int(point.time - 60))
                let to = min(work.count, Int(point.time + step) + 1)
                guard from < to else { continue }
                for second in from..<to { work[second] *= 1.25 }
            }
            scaler = plan(work: work, options: options, minReplicas: minReplicas, maxReplicas: maxReplicas)
            copy = scaler
            result = FleetSimulator.run(trace: trace, scaler: &copy, options: options)
        }
        return (scaler, result)
    }

    static func plan(work: [Double], options: SimulationOptions, minReplicas: Int, maxReplicas: Int) -> OracleScaler {
        let seconds = work.count
        var prefix = [Double](repeating: 0, count: seconds + 1)
        for second in 0..<seconds { prefix[second + 1] = prefix[second] + work[second] }
        let profile = options.profile
        let windows = [1, 2, 5, 10, 30, 60]
        var needed = [Int](repeating: minReplicas, count: seconds)
        for second in 0..<seconds {
            var most = 0.0
            for window in windows {
                // Windows starting here, and windows ending here (a backlog carried into this second).
                let last = min(seconds, second + window)
                let first = max(0, second + 1 - window)
                let work = max(prefix[last] - prefix[second], prefix[second + 1] - prefix[first])
                most = max(most, work / (Double(window) + options.sloTTFT / 2))
            }
            needed[second] = min(maxReplicas, max(minReplicas, Int((most - 1e-9).rounded(.up))))
        }
        // The most needed over [t, t + cold start]: a sliding maximum (monotone deque of indices).
        let ahead = Int((profile.coldStart + (profile.coldStartJitter ?? 0)).rounded(.up)) + 1
        var schedule = [Int](repeating: minReplicas, count: seconds)
        var deque: [Int] = []
        var head = 0
        var next = 0
        for second in 0..<seconds {
            while next < seconds && next <= second + ahead {
                while deque.count > head && needed[deque[deque.count - 1]] <= needed[next] { deque.removeLast() }
                deque.append(next)
                next += 1
            }
            while deque[head] < second { head += 1 }
            schedule[second] = needed[deque[head]]
        }
        return OracleScaler(schedule: schedule)
    }

    /// Replica-seconds of work arriving in each second of the replay: each request at the saturated throughput of
    /// its second's token mix.
    public static func workPerSecond(trace: Trace, options: SimulationOptions) -> [Double] {
        let profile = options.profile
        let end = FleetSimulator.span(trace, replay: options.replay)
        let seconds = max(1, Int(end.rounded(.up)))
        var count = [Double](repeating: 0, count: seconds)
        var input = [Double](repeating: 0, count: seconds)
        var output = [Double](repeating: 0, count: seconds)
        func add(at time: Double, _ requests: Double, _ tokensIn: Double, _ tokensOut: Double) {
            let index = min(seconds - 1, max(0, Int(time)))
            count[index] += requests
            input[index] += tokensIn
            output[index] += tokensOut
        }
        if FleetSimulator.usesFluidModel(trace, options: options) {
            var source = CohortSource(trace, options: options.replay)
            var time = 0.0
            while time < end {
                if let cohort = source.cohort(from: time, duration: FluidFleet.defaultTick) {
                    add(at: time, cohort.count, cohort.count * cohort.input, cohort.count * cohort.output)
                }
                time += FluidFleet.defaultTick
            }
        } else {
            for request in RequestStream(trace, options: options.replay) {
                add(at: request.arrival, 1, Double(request.inputTokens), Double(max(1, request.outputTokens)))
            }
        }
        return (0..<seconds).map { second in
            guard count[second] > 0 else { return 0 }
            return count[second]
                / saturatedThroughput(
                    profile, input: input[second] / count[second], output: output[second] / count[second])
        }
    }

    /// Requests per second one replica completes when kept full, by the same step model as the fleet.
    public static func saturatedThroughput(_ profile: PodProfile, input: Double, output: Double) -> Double {
        let batch = min(Double(profile.maxNumSeqs), Double(profile.kvCacheTokens) / max(1, input + output / 2))
        let perRequest =
            output * (profile.stepBase + profile.stepPerSequence * batch) / batch + input
            / profile.prefillTokensPerSecond
        return 1 / perRequest
    }

    public func sync(_ observation: FleetObservation) -> (replicas: Int, reason: String) {
        guard !schedule.isEmpty else { return (1, "oracle") }
        return (schedule[min(schedule.count - 1, max(0, Int(observation.time)))], "oracle")
    }
}
