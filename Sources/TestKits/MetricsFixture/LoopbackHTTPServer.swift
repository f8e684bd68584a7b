import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A plain HTTP server on a free 127.0.0.1 port whose answers come from a closure: the one server under the fixtures
/// that stand in for a pod's `/metrics`, a misbehaving Prometheus, and the benchmark's query API.
public final class LoopbackHTTPServer: Sendable {
    public struct Request: Sendable {
        public var method: String
        /// Path and query string, as sent.
        public var uri: String
        public var body: String
        /// Header names lowercased.
        public var headers: [String: String] = [:]

        public var path: String { uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri }

        /// A form parameter from the query string, else from a form-encoded body (how Prometheus clients POST).
        public func parameter(_ name: String) -> String? {
            let form = uri.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? body
            return form.split(separator: "&").first { $0.hasPrefix("\(name)=") }.map {
                let value = $0.dropFirst(name.count + 1).replacingOccurrences(of: "+", with: " ")
                return value.removingPercentEncoding ?? value
            }
        }
    }

    public struct Response: Sendable {
        public var status: Int
        public var contentType: String
        public var body: String

        public init(status: Int = 200, contentType: String, body: String) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }
    }

    private let channel: any Channel
    private let connections: Connections
    public let port: Int
    public var url: String { "http://127.0.0.1:\(port)" }
    /// `127.0.0.1:PORT`, as a scrape target.
    public var address: String { "127.0.0.1:\(port)" }

    /// - Parameter answer: the response to a request, or nil to read the request and never answer (a server that
    ///   hangs). Called on an event loop: it must not block.
    public static func start(
        backlog: Int32 = 256, answer: @escaping @Sendable (Request) -> Response?
    ) async throws -> LoopbackHTTPServer {
        let connections = Connections()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                connections.add(channel)
                return channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(ClosureHandler(answer: answer))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return LoopbackHTTPServer(channel: channel, connections: connections)
    }

    private init(channel: any Channel, connections: Connections) {
        self.channel = channel
        self.connections = connections
        self.port = channel.localAddress?.port ?? 0
    }

    /// Stops listening and closes the open connections too (keep-alive ones, held ones): a stopped server is down.
    public func stop() async {
        try? await channel.close()
        for connection in connections.all() { try? await connection.close() }
    }
}

/// The accepted connections still open.
private final class Connections: Sendable {
    private let open = Mutex<[ObjectIdentifier: any Channel]>([:])

    func add(_ channel: any Channel) {
        open.withLock { $0[ObjectIdentifier(channel)] = channel }
        channel.closeFuture.whenComplete { _ in
            _ = self.open.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
        }
    }

    func all() -> [any Channel] { open.withLock { Array($0.values) } }
}

/// One per connection, on its event loop: the request is gathered until its end, then answered (keep-alive).
private final class ClosureHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let answer: @Sendable (LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response?
    private var request = LoopbackHTTPServer.Request(method: "GET", uri: "/", body: "")
    private var version = HTTPVersion.http1_1

    init(answer: @escaping @Sendable (LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response?) {
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = LoopbackHTTPServer.Request(method: head.method.rawValue, uri: head.uri, body: "")
            for (name, value) in head.headers { request.headers[name.lowercased()] = value }
            version = head.version
        case .body(var buffer):
            request.body += buffer.readString(length: buffer.readableBytes) ?? ""
        case .end:
            guard let response = answer(request) else { return }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: response.contentType)
            headers.add(name: "Content-Length", value: String(response.body.utf8.count))
            let head = HTTPResponseHead(
                version: version, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: response.body)))),
                promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
