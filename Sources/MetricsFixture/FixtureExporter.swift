import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Test support: serves `/metrics` for simulated inference pods on 127.0.0.1, with values the test sets.
public final class FixtureExporter: Sendable {
    private let pods = Mutex<[String: PodMetrics]>([:])
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    /// `127.0.0.1:PORT`, as a Prometheus scrape target.
    public let address: String
    public let port: Int

    /// Starts listening on a free loopback port.
    public static func start() async throws -> FixtureExporter {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let box = StateBox()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(MetricsHandler(render: { box.render() }))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let exporter = FixtureExporter(group: group, channel: channel)
        box.exporter.withLock { $0 = exporter }
        return exporter
    }

    private init(group: MultiThreadedEventLoopGroup, channel: any Channel) {
        self.group = group
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
        self.address = "127.0.0.1:\(port)"
    }

    /// Adds or replaces a pod's metrics.
    public func set(_ metrics: PodMetrics) {
        pods.withLock { $0["\(metrics.namespace)/\(metrics.pod)"] = metrics }
    }

    /// Changes a pod's metrics in place.
    public func update(namespace: String, pod: String, _ change: (inout PodMetrics) -> Void) {
        pods.withLock { all in
            if var metrics = all["\(namespace)/\(pod)"] {
                change(&metrics)
                all["\(namespace)/\(pod)"] = metrics
            }
        }
    }

    public func remove(namespace: String, pod: String) {
        _ = pods.withLock { $0.removeValue(forKey: "\(namespace)/\(pod)") }
    }

    /// The exposition text being served now.
    public func render() -> String {
        Exposition.render(pods.withLock { Array($0.values) })
    }

    public func stop() async throws {
        try await channel.close()
        try await group.shutdownGracefully()
    }
}

/// Lets the channel handlers reach the exporter created after the bind.
private final class StateBox: Sendable {
    let exporter = Mutex<FixtureExporter?>(nil)

    func render() -> String {
        exporter.withLock { $0 }?.render() ?? ""
    }
}

final class MetricsHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let render: @Sendable () -> String

    init(render: @escaping @Sendable () -> String) {
        self.render = render
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let request) = unwrapInboundIn(data) else { return }
        let path = request.uri.split(separator: "?").first.map(String.init) ?? request.uri
        let (status, body, type): (HTTPResponseStatus, String, String) =
            path == "/metrics"
            ? (.ok, render(), "text/plain; version=0.0.4; charset=utf-8") : (.notFound, "not found\n", "text/plain")
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
