import Foundation
import MetricsFixture
import Simulator
import Synchronization

/// The simulated inference pods behind the Deployment: the ReplicaSet's part (pods follow `spec.replicas`), the
/// kubelet's (Ready after the cold start), and each engine's `/metrics` on its own port, listed for Prometheus in a
/// `file_sd` targets file as Kubernetes service discovery would list them.
final class DemoFleet {
    struct Pod {
        let id: Int
        let name: String
        let createdAt: Double
        let readyAt: Double
        let endpoint: LoopbackHTTPServer
        var markedReady = false
        /// Deleted from the API server; the engine finishes its requests before the GPU is free.
        var deleted = false
    }

    private(set) var fleet: LiveFleet
    private(set) var pods: [Pod] = []
    private let engines = EngineBoard()
    private let cluster: DemoCluster
    private let profile: PodProfile
    private let targetsFile: URL
    private var startDate = Date()
    private var nextID = 1
    private var random = SystemRandomNumberGenerator()
    private var publishedTargets: [String] = []
    private var lastWorkloadStatus: (pods: Int, ready: Int)?
    /// GPU-seconds held so far (loading, serving and draining pods).
    private(set) var gpuSeconds = 0.0
    private var lastTime = 0.0

    init(load: [RateSegment], profile: PodProfile, sloTTFT: Double, cluster: DemoCluster, targetsFile: URL) {
        fleet = LiveFleet(load: load, profile: profile, sloTTFT: sloTTFT, seed: 7)
        self.cluster = cluster
        self.profile = profile
        self.targetsFile = targetsFile
    }

    /// Time 0 of the load pattern is `date` (the fleet's first pods are made before the load starts).
    func restartClock(at date: Date) {
        startDate = date
    }

    /// Pods holding a GPU, and those of them Ready and not deleted.
    var counts: (pods: Int, ready: Int) {
        (pods.count, pods.filter { $0.markedReady && !$0.deleted }.count)
    }

    /// The arrival rate and TTFT p95 since the previous call.
    func takeInterval(at time: Double) -> (load: Double, ttftP95: Double?) {
        fleet.takeInterval(at: time)
    }

    /// Advances the engines to `time` (seconds since the start; 0 creates the Deployment's pods already Ready) and
    /// makes the pods follow the Deployment.
    func step(to time: Double) async throws {
        gpuSeconds += Double(pods.count) * max(0, time - lastTime)
        lastTime = time
        fleet.advance(to: time)
        let now = startDate.addingTimeInterval(time)

        let desired = cluster.desiredReplicas
        let live = pods.filter { !$0.deleted }
        if live.count < desired {
            for _ in live.count..<desired { try await addPod(at: time, now: now) }
        } else if live.count > desired {
            // The ReplicaSet's choice: pods not yet ready first, then the most recently started.
            let victims = live.sorted {
                ($0.markedReady ? 1 : 0, -$0.createdAt) < ($1.markedReady ? 1 : 0, -$1.createdAt)
            }
            .prefix(live.count - desired)
            for victim in victims { try removePod(id: victim.id) }
        }
        for index in pods.indices where !pods[index].markedReady && !pods[index].deleted && pods[index].readyAt <= time
        {
            try cluster.markReady(name: pods[index].name, at: now)
            pods[index].markedReady = true
        }
        for id in fleet.takeRetired() {
            guard let index = pods.firstIndex(where: { $0.id == id }) else { continue }
            await pods[index].endpoint.stop()
            pods.remove(at: index)
        }
        let snapshot = Dictionary(uniqueKeysWithValues: fleet.pods(at: time).map { ($0.id, $0) })
        engines.snapshot.withLock { $0 = snapshot }
        try publishTargets()
        let current = (pods.filter { !$0.deleted }.count, counts.ready)
        if lastWorkloadStatus.map({ $0 != current }) ?? true {
            cluster.updateWorkloadStatus(pods: current.0, ready: current.1, at: now)
            lastWorkloadStatus = current
        }
    }

    private func addPod(at time: Double, now: Date) async throws {
        let id = nextID
        nextID += 1
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        let suffix = String((0..<5).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &random)] })
        let name = "\(DemoCluster.deployment)-\(DemoCluster.labels["pod-template-hash"]!)-\(suffix)"
        let engines = self.engines
        let endpoint = try await LoopbackHTTPServer.metrics {
            Self.exposition(engines.snapshot.withLock { $0[id] }, pod: name)
        }
        // Pods that exist when the demo starts have long finished loading.
        let jitter = Double.random(in: 0...(profile.coldStartJitter ?? 0), using: &random)
        let readyAt = time == 0 ? 0 : time + profile.coldStart + jitter
        pods.append(Pod(id: id, name: name, createdAt: time, readyAt: readyAt, endpoint: endpoint))
        fleet.addPod(id: id, readyAt: readyAt)
        try cluster.createPod(name: name, port: endpoint.port, node: "gpu-node-\((id - 1) % 4 + 1)", at: now)
    }

    private func removePod(id: Int) throws {
        guard let index = pods.firstIndex(where: { $0.id == id }) else { return }
        pods[index].deleted = true
        fleet.drain(id: id)
        try cluster.deletePod(name: pods[index].name)
    }

    /// Stops every engine's endpoint.
    func stop() async {
        for pod in pods { await pod.endpoint.stop() }
        pods.removeAll()
    }

    /// The targets of pods that exist in the API server, with the labels Kubernetes service discovery relabels
    /// into `namespace` and `pod`; rewritten (atomically, as Prometheus requires) only when the set changes.
    private func publishTargets() throws {
        let live = pods.filter { !$0.deleted }
        let rendered = live.map { "\($0.endpoint.address) \($0.name)" }
        guard rendered != publishedTargets else { return }
        let groups: [[String: Any]] = live.map { pod in
            [
                "targets": [pod.endpoint.address],
                "labels": ["namespace": DemoCluster.namespace, "pod": pod.name, "container": "vllm"],
            ]
        }
        let data = try JSONSerialization.data(withJSONObject: groups, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: targetsFile, options: .atomic)
        publishedTargets = rendered
    }

    /// One pod's `/metrics` with vLLM's names and labels (no `namespace`/`pod`: discovery adds those); empty
    /// while the engine is still loading its weights.
    static func exposition(_ engine: LiveFleet.PodEngine?, pod: String) -> String {
        guard let engine, engine.ready else { return "" }
        let metrics = PodMetrics(
            namespace: DemoCluster.namespace, pod: pod, engine: .vllm, waiting: engine.waiting.rounded(),
            running: Double(engine.running), kvCacheUsage: engine.kvCacheUsage,
            ttft: Histogram(bounds: TTFTBuckets.bounds, cumulativeCounts: engine.ttftBuckets, sum: engine.ttftSum),
            generatedTokens: engine.generatedTokens, promptTokens: engine.promptTokens,
            queueTime: Histogram(
                bounds: QueueTimeBuckets.bounds, cumulativeCounts: engine.queueBuckets, sum: engine.queueSum))
        return Exposition.render([metrics], targetLabels: false)
    }
}

/// The engines' state at the last step, read by the `/metrics` handlers on the event loop threads.
final class EngineBoard: Sendable {
    let snapshot = Mutex<[Int: LiveFleet.PodEngine]>([:])
}
