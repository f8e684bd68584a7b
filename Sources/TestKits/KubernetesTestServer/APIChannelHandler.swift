import Foundation
import NIOCore
import NIOHTTP1

/// The HTTP/1.1 side of one connection: collects a request, asks `APIServerCore` for the reply and writes it,
/// either as one response or as a chunked watch stream. Everything here runs on the channel's event loop;
/// watch events from other threads arrive through `EventLoop.execute`, in the order the store produced them.
final class APIChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let core: APIServerCore
    private var context: ChannelHandlerContext?
    private var requestHead: HTTPRequestHead?
    private var requestBody = ByteBuffer()
    /// Increments per request so that deliveries for an ended watch are recognised and dropped.
    private var requestSerial = 0
    private var watch: WatchStream?

    /// The open watch of this connection.
    private struct WatchStream {
        var serial: Int
        var id: Int?
        var version: HTTPVersion
        var keepAlive: Bool
        var headWritten = false
        var pending: [WatchDelivery] = []
        var eventsWritten = 0
        var timeoutTask: Scheduled<Void>?
        var bookmarkTask: RepeatedTask?
    }

    init(core: APIServerCore) {
        self.core = core
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        endWatch(writeEnd: false)
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        endWatch(writeEnd: false)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // TLS handshake failures (a client without the CA) and resets end up here; the connection is done.
        endWatch(writeEnd: false)
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            requestHead = head
            requestBody.clear()
            if head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                context.writeAndFlush(
                    wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))),
                    promise: nil
                )
            }
        case .body(var buffer):
            requestBody.writeBuffer(&buffer)
        case .end:
            guard let head = requestHead else { return }
            requestHead = nil
            process(head, context: context)
        }
    }

    // MARK: - Requests

    private func process(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        requestSerial += 1
        let serial = requestSerial
        let request = IncomingRequest(
            method: head.method.rawValue,
            uri: head.uri,
            headers: head.headers.map { ($0.name, $0.value) },
            body: Data(requestBody.readableBytesView)
        )
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let reply = core.handle(request) {
            { delivery in loop.execute { bound.value.receive(delivery, serial: serial) } }
        }
        let delay = core.faults.withLock { $0.responseDelay }
        let keepAlive = head.isKeepAlive

        switch reply {
        case .response(let status, let contentType, let body, let retryAfter):
            let write = {
                bound.value.writeResponse(
                    status: status,
                    contentType: contentType,
                    body: body,
                    retryAfterSeconds: retryAfter,
                    version: head.version,
                    keepAlive: keepAlive
                )
            }
            if delay > 0 {
                loop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(delay * 1e9))) { write() }
            } else {
                write()
            }
        case .watch(let plan):
            watch = WatchStream(
                serial: serial,
                id: plan.id,
                version: head.version,
                keepAlive: keepAlive,
                pending: plan.initialLines.map { .event($0) }
            )
            let start = { bound.value.startWatchStream(plan: plan, serial: serial) }
            if delay > 0 {
                loop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(delay * 1e9))) { start() }
            } else {
                start()
            }
        }
    }

    private func writeResponse(
        status: Int,
        contentType: String,
        body: Data,
        retryAfterSeconds: Int?,
        version: HTTPVersion,
        keepAlive: Bool
    ) {
        guard let context else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Audit-Id", value: UUID().uuidString.lowercased())
        headers.add(name: "Cache-Control", value: "no-cache, private")
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.count))
        if let retryAfterSeconds { headers.add(name: "Retry-After", value: String(retryAfterSeconds)) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }

    // MARK: - Watch streams

    private func startWatchStream(plan: WatchPlan, serial: Int) {
        guard let context, var stream = watch, stream.serial == serial else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Audit-Id", value: UUID().uuidString.lowercased())
        headers.add(name: "Cache-Control", value: "no-cache, private")
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Transfer-Encoding", value: "chunked")
        let head = HTTPResponseHead(version: stream.version, status: .ok, headers: headers)
        context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
        stream.headWritten = true
        let pending = stream.pending
        stream.pending = []
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        if let seconds = plan.timeoutSeconds {
            stream.timeoutTask = loop.assumeIsolated().scheduleTask(in: .seconds(Int64(seconds))) {
                bound.value.endWatch(writeEnd: true)
            }
        }
        if let interval = plan.bookmarkInterval, let id = plan.id {
            let amount = TimeAmount.nanoseconds(Int64(interval * 1e9))
            let core = self.core
            stream.bookmarkTask = loop.scheduleRepeatedTask(initialDelay: amount, delay: amount) { _ in
                core.store.withLock { $0.bookmark(id) }
            }
        }
        watch = stream
        if reachedEventLimit() {
            endWatch(writeEnd: true)
            return
        }
        for delivery in pending {
            receive(delivery, serial: serial)
            guard watch?.serial == serial else { return }
        }
        // An expired watch is never registered: its ERROR line is all there is.
        if plan.id == nil { endWatch(writeEnd: true) }
    }

    fileprivate func receive(_ delivery: WatchDelivery, serial: Int) {
        guard let context, var stream = watch, stream.serial == serial else { return }
        let line: Data
        switch delivery {
        case .terminate:
            endWatch(writeEnd: true, close: true)
            return
        case .event(let data), .bookmark(let data):
            line = data
        }
        guard stream.headWritten else {
            stream.pending.append(delivery)
            watch = stream
            return
        }
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: line)))), promise: nil)
        if case .event = delivery {
            stream.eventsWritten += 1
            watch = stream
            if reachedEventLimit() { endWatch(writeEnd: true) }
        }
    }

    private func reachedEventLimit() -> Bool {
        guard let stream = watch, let limit = core.faults.withLock({ $0.closeWatchesAfterEvents }) else { return false }
        return stream.eventsWritten >= limit
    }

    /// Unregisters the watch and, when asked, ends the chunked body cleanly (the connection stays usable unless
    /// the client asked to close it or `close` is set).
    private func endWatch(writeEnd: Bool, close: Bool = false) {
        guard let stream = watch else { return }
        watch = nil
        stream.timeoutTask?.cancel()
        stream.bookmarkTask?.cancel()
        if let id = stream.id { core.store.withLock { $0.stopWatch(id) } }
        guard let context else { return }
        let channel = context.channel
        if writeEnd, stream.headWritten {
            let keepAlive = stream.keepAlive && !close
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { channel.close(promise: nil) }
            }
        } else if writeEnd || close {
            channel.close(promise: nil)
        }
    }
}
