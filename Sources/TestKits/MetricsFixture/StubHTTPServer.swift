import Synchronization

/// A loopback HTTP server whose answer the test sets: a status and body, or no answer at all (a server that hangs).
/// For a Prometheus that returns garbage or stops answering.
public final class StubHTTPServer: Sendable {
    public enum Answer: Sendable {
        case respond(status: Int, body: String)
        /// Reads the request and never answers.
        case hang
    }

    private let server: LoopbackHTTPServer
    private let state: State
    public var port: Int { server.port }
    public var url: String { server.url }

    private final class State: Sendable {
        let answer: Mutex<Answer>
        let requests = Mutex(0)
        init(_ answer: Answer) { self.answer = Mutex(answer) }
    }

    public static func start(_ answer: Answer) async throws -> StubHTTPServer {
        let state = State(answer)
        let server = try await LoopbackHTTPServer.start { _ in
            state.requests.withLock { $0 += 1 }
            guard case .respond(let status, let body) = state.answer.withLock({ $0 }) else { return nil }
            return .init(status: status, contentType: "application/json", body: body)
        }
        return StubHTTPServer(server: server, state: state)
    }

    private init(server: LoopbackHTTPServer, state: State) {
        self.server = server
        self.state = state
    }

    /// Requests answered (or held) so far.
    public var requests: Int { state.requests.withLock { $0 } }

    /// Changes the answer for the requests from now on.
    public func set(_ answer: Answer) {
        state.answer.withLock { $0 = answer }
    }

    public func stop() async {
        await server.stop()
    }
}
