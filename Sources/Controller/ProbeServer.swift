import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// Plain-HTTP endpoints for the kubelet and Prometheus: `/healthz` (the process serves), `/readyz` (caches synced),
/// `/metrics` (text format).
public final class ProbeServer: Sendable {
    public struct Routes: Sendable {
        public var ready: @Sendable () -> Bool
        public var metrics: @Sendable () -> String

        public init(ready: @escaping @Sendable () -> Bool, metrics: @escaping @Sendable () -> String) {
            self.ready = ready
            self.metrics = metrics
        }
    }

    private let channels: [any Channel]
    private let group: MultiThreadedEventLoopGroup
    /// The bound ports, in the order of the addresses given.
    public let ports: [Int]

    /// Binds each address (`:8080`, `127.0.0.1:0`, …); all serve the same routes.
    public static func start(addresses: [String], routes: Routes) async throws -> ProbeServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var channels: [any Channel] = []
        for address in addresses {
            let (host, port) = try parse(address)
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.pipeline.configureHTTPServerPipeline().flatMap {
                        channel.pipeline.addHandler(ProbeHandler(routes: routes))
                    }
                }
                .bind(host: host, port: port).get()
            channels.append(channel)
        }
        return ProbeServer(channels: channels, group: group)
    }

    private init(channels: [any Channel], group: MultiThreadedEventLoopGroup) {
        self.channels = channels
        self.group = group
        self.ports = channels.map { $0.localAddress?.port ?? 0 }
    }

    public func stop() async throws {
        for channel in channels { try? await channel.close() }
        try await group.shutdownGracefully()
    }

    public struct AddressError: Error, CustomStringConvertible {
        public var description: String
    }

    /// `:8080` → all interfaces; `host:port` as given.
    static func parse(_ address: String) throws -> (String, Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            (0...65535).contains(port)
        else { throw AddressError(description: "invalid bind address \"\(address)\" (use :PORT or HOST:PORT)") }
        let host = String(address[..<colon])
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }
}

/// The probe server as a `Service`: bound when the group starts, closed when it shuts down (after the services
/// started after it, so that `/metrics` and `/healthz` answer until the controller is done).
public struct ProbeService: Service {
    public let addresses: [String]
    public let routes: ProbeServer.Routes
    let logger: Logger

    public init(addresses: [String], routes: ProbeServer.Routes, logger: Logger) {
        self.addresses = addresses
        self.routes = routes
        self.logger = logger
    }

    public func run() async throws {
        let server = try await ProbeServer.start(addresses: addresses, routes: routes)
        logger.debug("probes serving", metadata: ["probes.ports": "\(server.ports)"])
        try? await gracefulShutdown()
        try? await server.stop()
    }
}

private final class ProbeHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let routes: ProbeServer.Routes

    init(routes: ProbeServer.Routes) { self.routes = routes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let request) = unwrapInboundIn(data) else { return }
        let path = request.uri.split(separator: "?").first.map(String.init) ?? request.uri
        let status: HTTPResponseStatus
        let body: String
        var type = "text/plain; charset=utf-8"
        switch path {
        case "/healthz", "/livez":
            (status, body) = (.ok, "ok\n")
        case "/readyz":
            (status, body) = routes.ready() ? (.ok, "ok\n") : (.serviceUnavailable, "caches not synced\n")
        case "/metrics":
            (status, body) = (.ok, routes.metrics())
            type = "text/plain; version=0.0.4; charset=utf-8"
        default:
            (status, body) = (.notFound, "not found\n")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))),
            promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
