import Synchronization

/// Test support: serves `/metrics` for simulated inference pods on 127.0.0.1, with values the test sets.
public final class FixtureExporter: Sendable {
    /// Shared with the server's closure, which renders them at each scrape.
    private final class Pods: Sendable {
        let all = Mutex<[String: PodMetrics]>([:])
    }

    private let pods: Pods
    private let server: LoopbackHTTPServer
    /// `127.0.0.1:PORT`, as a Prometheus scrape target.
    public var address: String { server.address }
    public var port: Int { server.port }

    /// Starts listening on a free loopback port.
    public static func start() async throws -> FixtureExporter {
        let pods = Pods()
        let server = try await LoopbackHTTPServer.metrics { Self.render(pods) }
        return FixtureExporter(pods: pods, server: server)
    }

    private init(pods: Pods, server: LoopbackHTTPServer) {
        self.pods = pods
        self.server = server
    }

    /// Adds or replaces a pod's metrics.
    public func set(_ metrics: PodMetrics) {
        pods.all.withLock { $0["\(metrics.namespace)/\(metrics.pod)"] = metrics }
    }

    /// Changes a pod's metrics in place.
    public func update(namespace: String, pod: String, _ change: (inout PodMetrics) -> Void) {
        pods.all.withLock { all in
            if var metrics = all["\(namespace)/\(pod)"] {
                change(&metrics)
                all["\(namespace)/\(pod)"] = metrics
            }
        }
    }

    public func remove(namespace: String, pod: String) {
        _ = pods.all.withLock { $0.removeValue(forKey: "\(namespace)/\(pod)") }
    }

    /// The exposition text being served now.
    public func render() -> String { Self.render(pods) }

    private static func render(_ pods: Pods) -> String {
        Exposition.render(pods.all.withLock { Array($0.values) })
    }

    public func stop() async throws {
        await server.stop()
    }
}
