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

/// The clairvoyant lower bound. It knows every arrival in advance and the cold start: for each bin of the trace it
/// computes the replicas whose saturated throughput (the profile's step model at its maximum batch for the bin's
/// token mix) covers the bin's requests at `utilization`, and keeps, at every moment, the most any bin needs from
/// now until one cold start ahead, so that new pods are Ready exactly when their bin begins and pods leave as soon
/// as no bin within a cold start needs them.
public struct OracleScaler: FleetScaler {
    public let needed: [Int]
    public let bin: Double
    public let coldStart: Double
    public let minReplicas: Int
    public let maxReplicas: Int
    public var name: String { "oracle" }
    public var syncPeriod: Double { 1 }
    public var initialReplicas: Int { plan(at: 0) }

    public init(needed: [Int], bin: Double, coldStart: Double, minReplicas: Int, maxReplicas: Int) {
        self.needed = needed
        self.bin = bin
        self.coldStart = coldStart
        self.minReplicas = minReplicas
        self.maxReplicas = maxReplicas
    }

    /// The plan for a trace replayed with `options`: the same requests (same seed) the simulation will see.
    public static func plan(
        trace: Trace, options: SimulationOptions, bin: Double = 10, utilization: Double = 0.85, minReplicas: Int = 1,
        maxReplicas: Int = 1000
    ) -> OracleScaler {
        let profile = options.profile
        let end = FleetSimulator.span(trace, replay: options.replay)
        let bins = max(1, Int((end / bin).rounded(.up)))
        var count = [Double](repeating: 0, count: bins)
        var input = [Double](repeating: 0, count: bins)
        var output = [Double](repeating: 0, count: bins)
        let useFluid: Bool =
            switch options.model {
            case .request: false
            case .fluid: true
            case .auto: FleetSimulator.expectedRequests(trace, replay: options.replay) > options.requestLevelLimit
            }
        if useFluid {
            var source = CohortSource(trace, options: options.replay)
            var time = 0.0
            while time < end {
                if let cohort = source.cohort(from: time, duration: 0.5) {
                    let index = min(bins - 1, Int(time / bin))
                    count[index] += cohort.count
                    input[index] += cohort.count * cohort.input
                    output[index] += cohort.count * cohort.output
                }
                time += 0.5
            }
        } else {
            for request in RequestStream(trace, options: options.replay) {
                let index = min(bins - 1, max(0, Int(request.arrival / bin)))
                count[index] += 1
                input[index] += Double(request.inputTokens)
                output[index] += Double(max(1, request.outputTokens))
            }
        }
        let needed = (0..<bins).map { index -> Int in
            guard count[index] > 0 else { return minReplicas }
            let perReplica = saturatedThroughput(
                profile, input: input[index] / count[index], output: output[index] / count[index])
            let replicas = Int((count[index] / bin / (perReplica * utilization)).rounded(.up))
            return min(maxReplicas, max(minReplicas, replicas))
        }
        return OracleScaler(
            needed: needed, bin: bin, coldStart: profile.coldStart + (profile.coldStartJitter ?? 0),
            minReplicas: minReplicas, maxReplicas: maxReplicas)
    }

    /// Requests per second one replica completes when kept full, by the same step model as the fleet.
    public static func saturatedThroughput(_ profile: PodProfile, input: Double, output: Double) -> Double {
        let batch = min(Double(profile.maxNumSeqs), Double(profile.kvCacheTokens) / max(1, input + output / 2))
        let perRequest =
            output * (profile.stepBase + profile.stepPerSequence * batch) / batch + input / profile.prefillTokensPerSecond
        return 1 / perRequest
    }

    /// The most any bin from `time` to one cold start ahead needs.
    func plan(at time: Double) -> Int {
        guard !needed.isEmpty else { return minReplicas }
        let first = min(needed.count - 1, max(0, Int(time / bin)))
        let last = min(needed.count - 1, max(0, Int((time + coldStart + syncPeriod) / bin)))
        return needed[first...last].max() ?? minReplicas
    }

    public func sync(_ observation: FleetObservation) -> (replicas: Int, reason: String) {
        (plan(at: observation.time), "oracle")
    }
}
