import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A loopback HTTP server whose answer the test sets: a status and body, or no answer at all (a server that hangs).
/// For a Prometheus that returns garbage or stops answering.
public final class StubHTTPServer: Sendable {
    public enum Answer: Sendable {
        case respond(status: Int, body: String)
        /// Reads the request and never answers.
        case hang
    }

    private let channel: any Channel
    public let port: Int
    public var url: String { "http://127.0.0.1:\(port)" }

    public static func start(_ answer: Answer) async throws -> StubHTTPServer {
        let box = AnswerBox(answer)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(StubHandler(answer: { box.served() }))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return StubHTTPServer(channel: channel, box: box)
    }

    private let box: AnswerBox

    private init(channel: any Channel, box: AnswerBox) {
        self.channel = channel
        self.box = box
        self.port = channel.localAddress?.port ?? 0
    }

    /// Requests answered (or held) so far.
    public var requests: Int { box.requests }

    /// Changes the answer for the requests from now on.
    public func set(_ answer: Answer) {
        box.value = answer
    }

    public func stop() async {
        try? await channel.close()
    }
}

private final class AnswerBox: Sendable {
    private let answer: Mutex<StubHTTPServer.Answer>
    private let count = Mutex(0)
    init(_ answer: StubHTTPServer.Answer) { self.answer = Mutex(answer) }
    var value: StubHTTPServer.Answer {
        get { answer.withLock { $0 } }
        set { answer.withLock { $0 = newValue } }
    }
    var requests: Int { count.withLock { $0 } }
    func served() -> StubHTTPServer.Answer {
        count.withLock { $0 += 1 }
        return value
    }
}

private final class StubHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let answer: @Sendable () -> StubHTTPServer.Answer

    init(answer: @escaping @Sendable () -> StubHTTPServer.Answer) {
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        guard case .respond(let status, let body) = answer() else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
