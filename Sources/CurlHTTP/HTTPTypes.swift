import Foundation

/// Header fields in order, looked up case-insensitively.
public struct HTTPHeaders: Sendable, Equatable, Sequence {
    public private(set) var fields: [(name: String, value: String)]

    public init(_ fields: [(String, String)] = []) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    public mutating func add(_ name: String, _ value: String) {
        fields.append((name, value))
    }

    /// Replaces every field called `name`.
    public mutating func set(_ name: String, _ value: String) {
        fields.removeAll { $0.name.caseInsensitiveCompare(name) == .orderedSame }
        fields.append((name, value))
    }

    /// The first value of `name`.
    public subscript(name: String) -> String? {
        fields.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.map(\.name) == rhs.fields.map(\.name) && lhs.fields.map(\.value) == rhs.fields.map(\.value)
    }
}

public struct HTTPRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: HTTPHeaders
    public var body: Data?
    /// The whole exchange must finish within this many seconds; nil for none (a watch ends on the server's terms).
    public var timeout: Double?

    public init(
        method: String = "GET", url: URL, headers: HTTPHeaders = HTTPHeaders(), body: Data? = nil, timeout: Double? = 30
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: Data
    /// "1.1" or "2".
    public var httpVersion: String
    /// False when the request went over a connection kept from an earlier one.
    public var newConnection: Bool

    public init(status: Int, headers: HTTPHeaders, body: Data, httpVersion: String = "1.1", newConnection: Bool = true)
    {
        self.status = status
        self.headers = headers
        self.body = body
        self.httpVersion = httpVersion
        self.newConnection = newConnection
    }
}

/// A response whose body arrives in pieces (a watch).
public struct HTTPStreamingResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var httpVersion: String
    /// Ends when the server ends the body; throws when the transfer fails. Stopping iteration aborts the transfer.
    public var body: AsyncThrowingStream<Data, any Error>
}

/// Where requests go: the production transport is `CurlHTTPClient`.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
    func stream(_ request: HTTPRequest) async throws -> HTTPStreamingResponse
}

/// A transfer that failed below HTTP: no connection, TLS, timeout, cancelled.
public struct HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case couldNotConnect
        case timedOut
        case tls
        case cancelled
        case invalidRequest
        /// The connection broke mid-transfer (server went away, body cut short).
        case connectionLost
        case other
    }

    public var code: Code
    public var message: String
    /// libcurl's `CURLcode`, when it said.
    public var curlCode: Int?

    public init(_ code: Code, _ message: String, curlCode: Int? = nil) {
        self.code = code
        self.message = message
        self.curlCode = curlCode
    }

    public var description: String { message }

    /// Worth trying again for an idempotent request.
    public var isTransient: Bool {
        switch code {
        case .couldNotConnect, .timedOut, .connectionLost: true
        case .tls, .cancelled, .invalidRequest, .other: false
        }
    }
}
