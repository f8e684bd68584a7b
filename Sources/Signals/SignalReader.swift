import AutoscalerCore
import Foundation

/// Reads a policy's signals from Prometheus as the decision wants them: a number, or missing with the reason. The
/// one fan-out of the signal path: the controller (through `PrometheusSignalSource`, with batches) and
/// `inference-autoscaler query` (without) both read through `readAll`.
public struct SignalReader: Sendable {
    /// What one signal's read gave, with the query that was run (for status and `inference-autoscaler query`).
    public struct Reading: Sendable, Equatable {
        public var query: String
        public var sample: SignalSample
    }

    /// Per-pod presets read once per namespace and round, shared by the policies of the namespace.
    public struct Batching: Sendable {
        let batches: NamespaceBatches
        /// Which client the batches belong to (address, timeout, TLS, headers).
        let key: String
        /// A batch younger than this is reused, in seconds.
        let maxAge: Double
    }

    /// Which of the engine's metric names the namespace exports, cached across rounds.
    public struct Discovery: Sendable {
        let cache: MetricDiscovery
        /// Which client the discoveries belong to (address, timeout, TLS, headers).
        let key: String

        public init(cache: MetricDiscovery, key: String) {
            self.cache = cache
            self.key = key
        }
    }

    public let client: PrometheusQueryClient
    /// Without it, every name the engine has used is queried (joined with `or`), and an unexported one reads empty.
    public var discovery: Discovery?
    /// The oldest sample accepted, in seconds.
    public var maxAge: Double
    public var batching: Batching?
    /// In batches, a pod's series with no sample for this many seconds is absent.
    public var staleAfter: Double
    /// The planner's rate window, in seconds.
    public var plannerWindow: Double

    public init(
        client: PrometheusQueryClient, maxAge: Double = 120, batching: Batching? = nil, discovery: Discovery? = nil,
        staleAfter: Double = 60, plannerWindow: Double = PolicyDefaults.rateWindow
    ) {
        self.client = client
        self.discovery = discovery
        self.maxAge = maxAge
        self.batching = batching
        self.staleAfter = staleAfter
        self.plannerWindow = plannerWindow
    }

    /// The engine's metric names, narrowed to those the namespace exports when there is a discovery.
    public func names(
        engine: Engine, namespace: String, roles: [MetricRole], at time: Date
    ) async -> Result<MetricNames, PrometheusError> {
        guard let discovery else { return .success(EnginePresets.names(for: engine)) }
        return await discovery.cache.names(
            engine: engine, namespace: namespace, roles: roles, client: client, key: discovery.key, at: time)
    }

    /// - Parameters:
    ///   - ready: the pods that should each report (nil: no such check, for `inference-autoscaler query`).
    ///   - gpus: each pod's `nvidia.com/gpu`: for the GPU types, how many GPUs of a ready pod should report.
    public func read(
        _ signal: ResolvedPolicy.Signal, engine: Engine, scope: PodScope, ready: Set<String>? = nil,
        gpus: [String: Int] = [:], at time: Date
    ) async -> Reading {
        let roles = EnginePresets.role(of: signal.type).map { [$0] } ?? []
        return await read(
            signal, names: names(engine: engine, namespace: scope.namespace, roles: roles, at: time), scope: scope,
            ready: ready, gpus: gpus, at: time)
    }

    func read(
        _ signal: ResolvedPolicy.Signal, names found: Result<MetricNames, PrometheusError>, scope: PodScope,
        ready: Set<String>?, gpus: [String: Int], at time: Date
    ) async -> Reading {
        if case .names(let pods) = scope.pods {
            // With no pods, nothing waits at, runs on or is served by a pod: a preset's value is 0. A gateway's queue
            // and a Custom query are still read: they are how a workload comes back from zero.
            if pods.isEmpty, !signal.type.existsWithoutPods { return Reading(query: "", sample: .value(0)) }
        }
        let names: MetricNames
        switch found {
        case .success(let value):
            names = value
        case .failure(let error):
            // Custom and DCGM signals do not depend on the engine's names.
            guard EnginePresets.role(of: signal.type) == nil else {
                return Reading(query: "", sample: .missing("finding the engine's metric names: \(error.message)"))
            }
            names = EnginePresets.names(for: .custom)
        }
        if case .names(let pods) = scope.pods,
            let query = EnginePresets.gpuSeries(for: signal.type, scope: scope, staleAfter: staleAfter)
        {
            let sample = await perGPU(signal, query: query, pods: pods, ready: ready ?? [], gpus: gpus, at: time)
            return Reading(query: query, sample: sample)
        }
        if case .names(let pods) = scope.pods, let batching,
            let query = EnginePresets.namespaceQuery(
                for: signal, names: names, namespace: scope.namespace, staleAfter: staleAfter)
        {
            let sample = await batched(signal, query: query, pods: pods, ready: ready ?? [], batching, at: time)
            return Reading(query: query, sample: sample)
        }
        let query: String
        do {
            query = try EnginePresets.query(for: signal, names: names, scope: scope)
        } catch {
            return Reading(query: "", sample: .missing(error.description))
        }
        switch await client.value(query, at: time, maxAge: maxAge) {
        case .success(let value):
            return Reading(query: query, sample: .value(value))
        case .failure(let error) where error.code == .notANumber:
            // A latency quantile over no requests is NaN. With series present and a zero request rate the fleet
            // served nothing: there was no latency to miss. Anything else stays missing.
            if let rateQuery = EnginePresets.requestRate(for: signal, names: names, scope: scope),
                case .success(let rate) = await client.value(rateQuery, at: time, maxAge: maxAge), rate == 0
            {
                return Reading(query: query, sample: .value(0))
            }
            return Reading(query: query, sample: .missing(error.message))
        case .failure(let error):
            return Reading(query: query, sample: .missing(error.message))
        }
    }

    /// What the objective planner needs, read per policy. A latency quantile over no requests (NaN) is 0 when the
    /// request rate is 0; with no pods the rates are 0.
    /// - Parameter ready: the pods that should each have a request counter (nil: no such check).
    public func workload(
        _ policy: ResolvedPolicy, scope: PodScope, ready: Set<String>? = nil, at time: Date
    ) async -> WorkloadSample {
        guard let objective = policy.objective else { return .missing("the policy has no objective") }
        if case .names(let pods) = scope.pods, pods.isEmpty { return WorkloadSample(requestRate: .value(0)) }
        let names: MetricNames
        switch await self.names(
            engine: policy.engine, namespace: scope.namespace, roles: Self.plannerRoles, at: time)
        {
        case .success(let value): names = value
        case .failure(let error): return .missing("finding the engine's metric names: \(error.message)")
        }
        let queries = EnginePresets.plannerQueries(
            objective: objective, names: names, scope: scope, window: plannerWindow)
        func read(_ query: String?, _ role: MetricRole) async -> SignalSample {
            guard let query else { return .missing(names.absence(role)) }
            switch await client.value(query, at: time, maxAge: maxAge) {
            case .success(let value): return .value(value)
            case .failure(let error) where error.code == .notANumber: return .value(.nan)
            case .failure(let error): return .missing("\(role.label): \(error.message)")
            }
        }
        let (rate, silent) = await requestRate(queries.requestRate, names: names, ready: ready, at: time)
        func latency(_ sample: SignalSample) -> SignalSample { sample.latency(servedRate: rate) }
        return WorkloadSample(
            requestRate: rate, promptTokenRate: await read(queries.promptTokenRate, .promptTokens),
            generatedTokenRate: await read(queries.generatedTokenRate, .generatedTokens),
            queueTime: latency(await read(queries.queueTime, .queueTime)),
            timeToFirstToken: latency(await read(queries.timeToFirstToken, .timeToFirstToken)),
            interTokenLatency: latency(await read(queries.interTokenLatency, .interTokenLatency)),
            kvCacheUsage: await read(queries.kvCacheUsage, .kvCache),
            withinTarget: await share(
                queries.ttftBuckets, absent: names.absence(.timeToFirstToken),
                atOrBelow: objective.timeToFirstToken.seconds, at: time),
            silentPods: silent)
    }

    /// The share of first tokens within `seconds`, from the TTFT histogram's buckets.
    private func share(
        _ query: String?, absent: String, atOrBelow seconds: Double, at time: Date
    ) async -> SignalSample {
        guard let query else { return .missing(absent) }
        switch await client.query(query, at: time) {
        case .failure(let error): return .missing("TTFT buckets: \(error.message)")
        case .success(let response):
            guard case .vector(let samples) = response.result else { return .missing("TTFT buckets: not a vector") }
            return Self.share(of: samples, atOrBelow: seconds)
        }
    }

    /// From `sum by (le)` of a histogram's bucket rates: every `le` but `+Inf` a bound, `+Inf` the total. No request
    /// in the window (a total of 0) missed nothing.
    public static func share(of buckets: [VectorSample], atOrBelow seconds: Double) -> SignalSample {
        var finite: [(bound: Double, count: Double)] = []
        var total: Double?
        for bucket in buckets {
            guard let le = bucket.labels["le"] else { return .missing("TTFT buckets: a series without le") }
            if le == "+Inf" {
                total = bucket.value
            } else if let bound = Double(le) {
                finite.append((bound, bucket.value))
            } else {
                return .missing("TTFT buckets: le=\"\(le)\" is not a number")
            }
        }
        guard let total, total.isFinite else { return .missing("TTFT buckets: no +Inf bucket") }
        if total == 0 { return .value(1) }
        finite.sort { $0.bound < $1.bound }
        let share = HistogramShare.atOrBelow(
            seconds, bounds: finite.map(\.bound), cumulative: finite.map(\.count) + [total])
        return share.map(SignalSample.value) ?? .missing("TTFT buckets: counts do not add up")
    }

    /// The fleet's request rate, summed from the per-pod rates, and the ready pods that have none.
    private func requestRate(
        _ query: String?, names: MetricNames, ready: Set<String>?, at time: Date
    ) async -> (SignalSample, [String]) {
        guard let query else { return (.missing(names.absence(.timeToFirstToken)), []) }
        switch await client.query(query, at: time) {
        case .failure(let error):
            return (.missing("request counter: \(error.message)"), [])
        case .success(let response):
            switch response.result {
            case .scalar(_, let value):
                return (.value(value), [])
            case .vector(let samples) where samples.isEmpty:
                return (.missing("request counter: no series matched"), [])
            case .vector(let samples):
                let reporting = Set(samples.compactMap { $0.labels["pod"] })
                return (
                    .value(samples.reduce(0) { $0 + $1.value }), ready.map { $0.subtracting(reporting).sorted() } ?? []
                )
            }
        }
    }

    /// A per-pod preset from the namespace's batch: this policy's pods only.
    private func batched(
        _ signal: ResolvedPolicy.Signal, query: String, pods: [String], ready: Set<String>, _ batching: Batching,
        at time: Date
    ) async -> SignalSample {
        let result = await batching.batches.values(
            key: "\(batching.key)|\(query)", query: query, client: client, at: time, maxAge: batching.maxAge)
        switch result {
        case .success(let values) where signal.type == .timeToFirstToken:
            // Latency never votes for fewer replicas, so a silent pod cannot shrink the fleet through it.
            return NamespaceBatches.quantile(signal.quantile ?? PolicyDefaults.quantile, of: values, pods: pods)
        case .success(let values):
            return NamespaceBatches.aggregate(
                values, pods: pods, ready: ready, targetType: signal.targetType, target: signal.target)
        case .failure(let error):
            return .missing(error.message)
        }
    }

    /// What the objective planner reads.
    static let plannerRoles: [MetricRole] = [
        .timeToFirstToken, .promptTokens, .generatedTokens, .queueTime, .interTokenLatency, .kvCache,
    ]

    /// Every signal of a policy, concurrently, in the policy's order, with one discovery of the engine's names.
    public func readAll(
        _ policy: ResolvedPolicy, scope: PodScope, ready: Set<String>? = nil, gpus: [String: Int] = [:], at time: Date
    ) async -> [Reading] {
        let roles = policy.signals.compactMap { EnginePresets.role(of: $0.type) }
        let names =
            roles.isEmpty
            ? .success(EnginePresets.names(for: policy.engine))
            : await names(engine: policy.engine, namespace: scope.namespace, roles: roles, at: time)
        return await withTaskGroup(of: (Int, Reading).self) { group in
            for (index, signal) in policy.signals.enumerated() {
                group.addTask {
                    (index, await read(signal, names: names, scope: scope, ready: ready, gpus: gpus, at: time))
                }
            }
            var readings = [Reading?](repeating: nil, count: policy.signals.count)
            for await (index, reading) in group { readings[index] = reading }
            return readings.map { $0! }
        }
    }
}
