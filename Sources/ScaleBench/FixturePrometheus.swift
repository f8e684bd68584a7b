import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A stand-in for Prometheus' query API, fast and countable: the real Prometheus is not what this benchmark measures.
/// Every instant query gets one sample: `hot` when its selector names a pod marked hot, else `steady`.
final class FixturePrometheus: Sendable {
    struct State {
        var hotPods: Set<String> = []
        var queries = 0
        /// The pods of each namespace, for queries `by (namespace, pod)`.
        var pods: [String: [String]] = [:]
    }

    let state = Mutex(State())
    private let channel: any Channel
    let port: Int
    let steady: Double
    let hot: Double
    var url: String { "http://127.0.0.1:\(port)" }

    static func start(steady: Double, hot: Double) async throws -> FixturePrometheus {
        let holder = Holder()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(QueryHandler(answer: { holder.fixture?.answer($0) ?? "" }))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let fixture = FixturePrometheus(channel: channel, steady: steady, hot: hot)
        holder.fixture = fixture
        return fixture
    }

    private init(channel: any Channel, steady: Double, hot: Double) {
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
        self.steady = steady
        self.hot = hot
    }

    /// One sample per pod of the namespace for a query `by (namespace, pod)`; else one sample, hot when the query's
    /// pod regex names a hot pod.
    func answer(_ query: String) -> String {
        let time = String(format: "%.3f", Date().timeIntervalSince1970)
        if query.contains("by (namespace, pod)"), let namespace = Self.namespace(in: query) {
            let (pods, hotPods) = state.withLock { state in
                state.queries += 1
                return (state.pods[namespace] ?? [], state.hotPods)
            }
            let samples = pods.map { pod in
                let value = hotPods.contains(pod) ? hot : steady
                return #"{"metric":{"namespace":"\#(namespace)","pod":"\#(pod)"},"value":[\#(time),"\#(value)"]}"#
            }
            return #"{"status":"success","data":{"resultType":"vector","result":["#
                + samples.joined(separator: ",") + "]}}"
        }
        let isHot = state.withLock { state -> Bool in
            state.queries += 1
            return state.hotPods.contains { query.contains($0) }
        }
        let value = isHot ? hot : steady
        return
            #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[\#(time),"\#(value)"]}]}}"#
    }

    static func namespace(in query: String) -> String? {
        guard let start = query.range(of: #"namespace=""#) else { return nil }
        let rest = query[start.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }

    func stop() async {
        try? await channel.close()
    }
}

private final class Holder: @unchecked Sendable {
    var fixture: FixturePrometheus?
}

private final class QueryHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let answer: @Sendable (String) -> String
    private var uri = ""
    private var body = ""

    init(answer: @escaping @Sendable (String) -> String) {
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            uri = head.uri
            body = ""
        case .body(var buffer):
            body += buffer.readString(length: buffer.readableBytes) ?? ""
        case .end:
            let form = uri.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? body
            let query =
                form.split(separator: "&").first { $0.hasPrefix("query=") }
                .map { String($0.dropFirst(6)).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
                ?? ""
            let text = answer(query)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(text.utf8.count))
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil
            )
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: text)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
