import Foundation
import KubernetesModel

extension WatchEvent {
    /// Decodes one line of a watch body.
    static func decode(line: Data) throws -> WatchEvent<T> {
        let value = try JSONDecoder().decode(JSONValue.self, from: line)
        guard case .string(let typeName)? = value["type"], let type = Kind(rawValue: typeName) else {
            throw KubernetesDecodingError(
                type: "WatchEvent", underlying: "no known \"type\"",
                body: String(decoding: line.prefix(300), as: UTF8.self))
        }
        let object = value["object"] ?? .null
        var resourceVersion: String?
        if case .string(let version)? = object["metadata"]?["resourceVersion"] { resourceVersion = version }
        let data = try object.jsonData()
        switch type {
        case .error:
            return WatchEvent(type: type, status: try JSONDecoder().decode(KubernetesStatus.self, from: data))
        case .bookmark:
            return WatchEvent(type: type, resourceVersion: resourceVersion)
        case .added, .modified, .deleted:
            do {
                return WatchEvent(
                    type: type, object: try JSONDecoder().decode(T.self, from: data), resourceVersion: resourceVersion)
            } catch {
                throw KubernetesDecodingError(
                    type: String(describing: T.self), underlying: "\(error)",
                    body: String(decoding: line.prefix(300), as: UTF8.self))
            }
        }
    }

    static func events(from body: AsyncThrowingStream<Data, any Error>) -> WatchEventStream<T> {
        WatchEventStream(body: body)
    }
}

/// Newline-delimited JSON events over a streamed body. Ending iteration early aborts the transfer.
public struct WatchEventStream<T: Decodable & Sendable>: AsyncSequence, Sendable {
    public typealias Element = WatchEvent<T>
    let body: AsyncThrowingStream<Data, any Error>

    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: AsyncThrowingStream<Data, any Error>.AsyncIterator
        var buffer = Data()
        var ended = false

        public mutating func next() async throws -> WatchEvent<T>? {
            while true {
                if let newline = buffer.firstIndex(of: 0x0A) {
                    let line = buffer[buffer.startIndex..<newline]
                    buffer = Data(buffer[buffer.index(after: newline)...])
                    if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
                    return try WatchEvent<T>.decode(line: Data(line))
                }
                if ended {
                    // A last event without a trailing newline still counts.
                    guard !buffer.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x0A }) else { return nil }
                    let line = buffer
                    buffer = Data()
                    return try WatchEvent<T>.decode(line: line)
                }
                if let chunk = try await chunks.next() {
                    buffer.append(chunk)
                } else {
                    ended = true
                }
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(chunks: body.makeAsyncIterator())
    }
}
