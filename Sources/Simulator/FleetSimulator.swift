import Foundation

/// How to run one simulation.
public struct SimulationOptions: Sendable {
    public enum Model: String, Sendable, CaseIterable {
        /// Request-level when the trace holds at most `requestLevelLimit` requests, fluid beyond.
        case auto
        case request
        case fluid
    }

    public var profile: PodProfile
    public var replay: ReplayOptions
    public var sloTTFT: Double
    public var scrapeInterval: Double
    /// Seconds per timeline point; nil picks one that gives about 2,000 points.
    public var timelineInterval: Double?
    public var model: Model
    public var requestLevelLimit: Double
    /// Keep every finished request (conservation tests; request-level model only).
    public var keepFinished: Bool

    public init(
        profile: PodProfile = .llama3_8b_h100, replay: ReplayOptions = ReplayOptions(), sloTTFT: Double = 2,
        scrapeInterval: Double = 15, timelineInterval: Double? = nil, model: Model = .auto,
        requestLevelLimit: Double = 3_000_000, keepFinished: Bool = false
    ) {
        self.profile = profile
        self.replay = replay
        self.sloTTFT = sloTTFT
        self.scrapeInterval = scrapeInterval
        self.timelineInterval = timelineInterval
        self.model = model
        self.requestLevelLimit = requestLevelLimit
        self.keepFinished = keepFinished
    }
}

/// What a simulation measured.
public struct SimulationResult: Sendable, Codable {
    public var scaler: String
    public var profile: String
    public var model: String
    public var durationSeconds: Double
    public var requests: Int
    public var completed: Int
    public var gpuHours: Double
    public var sloTTFTSeconds: Double
    public var sloAttainment: Double
    public var ttftP50: Double?
    public var ttftP95: Double?
    public var ttftP99: Double?
    public var scaleEvents: Int
    public var maxReplicas: Int
    public var meanReplicas: Double
    public var timeline: [TimelinePoint]

    enum CodingKeys: String, CodingKey {
        case scaler, profile, model, timeline
        case durationSeconds = "duration_seconds"
        case requests, completed
        case gpuHours = "gpu_hours"
        case sloTTFTSeconds = "slo_ttft_seconds"
        case sloAttainment = "slo_attainment"
        case ttftP50 = "ttft_p50"
        case ttftP95 = "ttft_p95"
        case ttftP99 = "ttft_p99"
        case scaleEvents = "scale_events"
        case maxReplicas = "max_replicas"
        case meanReplicas = "mean_replicas"
    }
}

/// Drives a fleet model with a scaler: Prometheus scrapes at the scrape interval, the scaler syncs at its period,
/// new pods pay the cold start, removed pods finish their work before they give their GPUs back.
public enum FleetSimulator {
    struct Pod {
        let id: Int
        let createdAt: Double
        let readyAt: Double
        var terminatingAt: Double?
        var goneAt: Double?
    }

    /// Requests the trace will replay with these options (an estimate for rate traces).
    public static func expectedRequests(_ trace: Trace, replay: ReplayOptions) -> Double {
        let end = replay.duration.map { replay.start + $0 } ?? .infinity
        switch trace {
        case .requests(let requests):
            return Double(requests.lazy.filter { $0.arrival >= replay.start && $0.arrival < end }.count)
                * replay.rateScale
        case .rates(let segments):
            return segments.reduce(0) { total, segment in
                let overlap = max(0, min(segment.start + segment.duration, end) - max(segment.start, replay.start))
                return total + segment.requestsPerSecond * overlap
            } * replay.rateScale
        }
    }

    /// Whether `run` uses the fluid model for this trace.
    public static func usesFluidModel(_ trace: Trace, options: SimulationOptions) -> Bool {
        switch options.model {
        case .request: false
        case .fluid: true
        case .auto: expectedRequests(trace, replay: options.replay) > options.requestLevelLimit
        }
    }

    public static func run<Scaler: FleetScaler>(
        trace: Trace, scaler: inout Scaler, options: SimulationOptions
    ) -> SimulationResult {
        if usesFluidModel(trace, options: options) {
            var model = FluidFleet(
                arrivals: CohortSource(trace, options: options.replay), profile: options.profile,
                sloTTFT: options.sloTTFT)
            return run(trace: trace, model: &model, scaler: &scaler, options: options, modelName: "fluid")
        }
        var model = RequestFleet(
            stream: RequestStream(trace, options: options.replay), profile: options.profile,
            sloTTFT: options.sloTTFT, keepFinished: options.keepFinished)
        return run(trace: trace, model: &model, scaler: &scaler, options: options, modelName: "request")
    }

    public static func span(_ trace: Trace, replay: ReplayOptions) -> Double {
        let available = max(0, trace.span - replay.start)
        return min(available, replay.duration ?? available)
    }

    static func run<Model: FleetModel, Scaler: FleetScaler>(
        trace: Trace, model: inout Model, scaler: inout Scaler, options: SimulationOptions, modelName: String
    ) -> SimulationResult {
        let end = span(trace, replay: options.replay)
        let profile = options.profile
        let timelineStep = options.timelineInterval ?? max(10, (end / 2000 / 10).rounded(.up) * 10)
        let log = ScrapeLog(retention: 3700)
        var random = SeededRandom(seed: options.replay.seed ^ 0xC01D)

        var pods: [Pod] = []
        var nextID = 0
        var desired = max(0, scaler.initialReplicas)
        func create(at time: Double, warm: Bool) {
            let jitter = (profile.coldStartJitter ?? 0) * random.unit()
            let readyAt = warm ? time : time + profile.coldStart + jitter
            pods.append(Pod(id: nextID, createdAt: time, readyAt: readyAt))
            model.addReplica(id: nextID, readyAt: readyAt)
            nextID += 1
        }
        // The trace starts in steady state: the initial replicas are warm.
        for _ in 0..<desired { create(at: 0, warm: true) }

        var scaleEvents = 0
        var maxPods = desired
        var replicaSeconds = 0.0
        var lastBusy = 0.0
        var lastReason = "initial"
        var timeline: [TimelinePoint] = []
        timeline.reserveCapacity(Int(end / timelineStep) + 2)

        // Scrapes at 0, S, 2S…; syncs offset from them (the two clocks are unrelated in a cluster).
        var nextScrape = 0.0
        var nextSync = min(options.scrapeInterval / 2, scaler.syncPeriod)
        var nextSample = scaler.sampleInterval ?? .infinity
        var nextPoint = timelineStep
        var pointStart = 0.0
        var time = 0.0

        func active() -> [Int] {
            pods.indices.filter { pods[$0].terminatingAt == nil }
        }
        func reconcile(desired: Int, at time: Double) {
            let current = active()
            if current.count < desired {
                for _ in current.count..<desired { create(at: time, warm: false) }
            } else if current.count > desired {
                // As a ReplicaSet picks: pods not ready first, then the most recently created.
                let victims = current.sorted { a, b in
                    let aReady = pods[a].readyAt <= time
                    let bReady = pods[b].readyAt <= time
                    if aReady != bReady { return !aReady }
                    return pods[a].createdAt > pods[b].createdAt
                }
                .prefix(current.count - desired)
                for index in victims {
                    pods[index].terminatingAt = time
                    if pods[index].readyAt > time { pods[index].goneAt = time }
                    model.drain(id: pods[index].id)
                }
                _ = model.takeRetired().map { retiredPod in
                    if let index = pods.firstIndex(where: { $0.id == retiredPod.id }), pods[index].goneAt == nil {
                        pods[index].goneAt = retiredPod.at
                    }
                }
            }
        }

        while time < end {
            let next = min(nextScrape, nextSync, nextSample, nextPoint, end)
            model.advance(to: next)
            for (id, at) in model.takeRetired() {
                if let index = pods.firstIndex(where: { $0.id == id }) { pods[index].goneAt = at }
            }
            // GPU time: every pod that holds a GPU between `time` and `next`.
            for pod in pods where pod.createdAt < next {
                let from = max(pod.createdAt, time)
                let to = min(pod.goneAt ?? next, next)
                if to > from { replicaSeconds += to - from }
            }
            pods.removeAll { $0.goneAt != nil && $0.goneAt! <= next }
            time = next

            if time >= nextScrape {
                let gauges = model.gauges(at: time)
                let stats = model.stats
                let interval = max(options.scrapeInterval, 1e-9)
                let busy = stats.busySeconds - lastBusy
                lastBusy = stats.busySeconds
                log.append(
                    ScrapeSample(
                        time: time, readyPods: gauges.readyPods,
                        existingPods: pods.filter { $0.terminatingAt == nil }.count, waiting: gauges.waiting,
                        running: gauges.running, kvUsageSum: gauges.kvUsageSum,
                        gpuUtilizationSum: min(Double(gauges.readyPods) * 100, 100 * busy / interval),
                        ttftBuckets: stats.cumulativeTTFTBuckets, generatedTokens: stats.generatedTokens,
                        promptTokens: stats.promptTokens, queueBuckets: stats.cumulativeQueueBuckets))
                nextScrape += options.scrapeInterval
            }
            if time >= nextSample {
                scaler.sample(model.gauges(at: time))
                nextSample += scaler.sampleInterval ?? .infinity
            }
            if time >= nextSync {
                let current = pods.filter { $0.terminatingAt == nil }
                let observation = FleetObservation(
                    time: time, desiredReplicas: desired,
                    readyReplicas: current.filter { $0.readyAt <= time }.count,
                    pods: current.map {
                        PodView(createdAt: $0.createdAt, readyAt: $0.readyAt <= time ? $0.readyAt : nil)
                    },
                    metrics: PrometheusView(time: time, log: log))
                let (wanted, reason) = scaler.sync(observation)
                lastReason = reason
                let target = max(0, wanted)
                if target != desired { scaleEvents += 1 }
                desired = target
                reconcile(desired: target, at: time)
                maxPods = max(maxPods, pods.filter { $0.terminatingAt == nil }.count)
                nextSync += scaler.syncPeriod
            }
            if time >= nextPoint || time >= end {
                let gauges = model.gauges(at: time)
                let stats = model.stats
                let length = time - pointStart
                if length > 0 {
                    timeline.append(
                        TimelinePoint(
                            time: pointStart, load: stats.intervalArrivals / length, waiting: gauges.waiting,
                            desired: desired, ready: gauges.readyPods, pods: pods.count,
                            ttftP95: stats.intervalTTFT.quantile(0.95), reason: lastReason,
                            missed: stats.intervalMissed))
                }
                model.stats.intervalArrivals = 0
                model.stats.intervalTTFT.reset()
                model.stats.intervalMissed = 0
                pointStart = time
                nextPoint += timelineStep
            }
        }

        // After the trace: no new scaling, the fleet finishes what it holds (GPU time is counted to the trace's end).
        var drainUntil = end
        while model.inFlight > 0.5 && drainUntil < end + 3600 {
            drainUntil += 60
            model.advance(to: drainUntil)
        }

        let stats = model.stats
        return SimulationResult(
            scaler: scaler.name, profile: profile.name, model: modelName, durationSeconds: end,
            requests: Int(stats.arrived.rounded()), completed: Int(stats.completed.rounded()),
            gpuHours: replicaSeconds * Double(profile.gpus) / 3600, sloTTFTSeconds: options.sloTTFT,
            sloAttainment: stats.arrived > 0 ? stats.withinSLO / stats.arrived : 1,
            ttftP50: stats.ttft.quantile(0.5), ttftP95: stats.ttft.quantile(0.95), ttftP99: stats.ttft.quantile(0.99),
            scaleEvents: scaleEvents, maxReplicas: maxPods, meanReplicas: end > 0 ? replicaSeconds / end : 0,
            timeline: timeline)
    }
}
