import NIOCore
import NIOHTTP1
import NIOPosix

/// One `/metrics` endpoint on its own loopback port, serving whatever `render` returns at each scrape: a pod of a
/// live simulated fleet, as Prometheus' service discovery would find it.
public final class MetricsEndpoint: Sendable {
    private let channel: any Channel
    public let port: Int
    /// `127.0.0.1:PORT`, as a scrape target.
    public var address: String { "127.0.0.1:\(port)" }

    public static func start(render: @escaping @Sendable () -> String) async throws -> MetricsEndpoint {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(MetricsHandler(render: render))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return MetricsEndpoint(channel: channel)
    }

    private init(channel: any Channel) {
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
    }

    public func stop() async {
        try? await channel.close()
    }
}
