import Foundation
import KubernetesModel
import KubernetesTestServer
import Testing

/// What one `curl` run produced.
struct CurlResult {
    var exitCode: Int32
    var status: Int
    /// Response headers of the final response, lowercased names.
    var headers: [String: String]
    var body: Data
    var stderr: String

    var text: String { String(decoding: body, as: UTF8.self) }
    var json: JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: body) }

    /// The lines of a watch stream, parsed.
    var events: [JSONValue] {
        text.split(separator: "\n").compactMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
    }
}

/// Runs the `curl` command-line tool against a test server, always with a time limit.
struct Curl {
    let server: TestAPIServer
    var token: String? = "test-token"

    func callAsFunction(
        _ method: String,
        _ path: String,
        body: String? = nil,
        contentType: String? = nil,
        token: String?? = .none,
        trustCA: Bool = true,
        host: String? = nil,
        maxTime: Double = 15,
        extra: [String] = []
    ) async throws -> CurlResult {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("curl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let headerFile = directory.appendingPathComponent("headers").path
        let bodyFile = directory.appendingPathComponent("body").path
        let errorFile = directory.appendingPathComponent("stderr").path
        var base = server.url.absoluteString
        if let host { base = base.replacingOccurrences(of: "127.0.0.1", with: host) }
        var arguments = [
            "-sS", "-N", "--max-time", String(maxTime), "-X", method, "-D", headerFile, "-o", bodyFile,
            "-w", "%{http_code}", "-H", "User-Agent: kubernetes-test-server-tests/1.0",
        ]
        if trustCA { arguments += ["--cacert", server.caCertificatePath] }
        let bearer = token ?? self.token
        if let bearer { arguments += ["-H", "Authorization: Bearer \(bearer)"] }
        if let contentType { arguments += ["-H", "Content-Type: \(contentType)"] }
        if let body { arguments += ["--data-binary", body] }
        arguments += extra
        arguments.append(base + path)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl"] + arguments
        let output = Pipe()
        process.standardOutput = output
        _ = FileManager.default.createFile(atPath: errorFile, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: errorFile)
        let exitCode: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        let statusText = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let rawHeaders = (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? ""
        // With `Expect: 100-continue` there are two header blocks; the last one belongs to the final response.
        let lastBlock = rawHeaders.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }.last ?? ""
        var headers: [String: String] = [:]
        for line in lastBlock.components(separatedBy: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces
            )
        }
        return CurlResult(
            exitCode: exitCode,
            status: Int(statusText) ?? 0,
            headers: headers,
            body: FileManager.default.contents(atPath: bodyFile) ?? Data(),
            stderr: (try? String(contentsOfFile: errorFile, encoding: .utf8)) ?? ""
        )
    }
}

/// Starts a server, runs `body`, stops the server.
func withServer(
    _ options: TestAPIServer.Options = .init(),
    _ body: (TestAPIServer, Curl) async throws -> Void
) async throws {
    let server = try await TestAPIServer.start(options)
    do {
        try await body(server, Curl(server: server))
    } catch {
        try await server.stop()
        throw error
    }
    try await server.stop()
}

/// Waits until the server has recorded `count` watch requests; an issue after `timeout` seconds without. The watches
/// come from curl processes, which a loaded machine may be slow to start: the default leaves them ample time.
func waitForWatches(_ server: TestAPIServer, count: Int = 1, timeout: Double = 30) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while server.requests.filter(\.isWatch).count < count {
        guard Date() < deadline else {
            Issue.record("\(server.requests.filter(\.isWatch).count) of \(count) watches after \(timeout) s")
            return
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// JSON text of a value.
func json(_ value: JSONValue) -> String {
    String(decoding: try! value.jsonData(), as: UTF8.self)
}

/// Parses JSON text in tests.
func parse(_ text: String) -> JSONValue {
    try! JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
}

extension JSONValue {
    /// The value at a dotted path, for assertions.
    func at(_ path: String) -> JSONValue? {
        var current: JSONValue? = self
        for key in path.split(separator: ".") {
            if let index = Int(key), case .array(let items)? = current {
                current = items.indices.contains(index) ? items[index] : nil
            } else {
                current = current?[String(key)]
            }
        }
        return current
    }

    var int: Int? {
        if case .number(let number) = self { return Int(number) }
        return nil
    }

    var items: [JSONValue] {
        if case .array(let items)? = self["items"] { return items }
        return []
    }

    var elements: [JSONValue] {
        if case .array(let elements) = self { return elements }
        return []
    }
}

/// A minimal Deployment.
func deployment(
    _ name: String,
    namespace: String = "default",
    replicas: Int = 2,
    labels: [String: String] = [:]
)
    -> JSONValue
{
    let labelMembers = labels.mapValues { JSONValue.string($0) }
    return .object([
        "apiVersion": .string("apps/v1"), "kind": .string("Deployment"),
        "metadata": .object(["name": .string(name), "namespace": .string(namespace), "labels": .object(labelMembers)]),
        "spec": .object([
            "replicas": .number(Double(replicas)),
            "selector": .object(["matchLabels": .object(["app": .string(name), "tier": .string("gpu")])]),
            "template": .object([
                "metadata": .object(["labels": .object(["app": .string(name), "tier": .string("gpu")])]),
                "spec": .object([
                    "containers": .array([.object(["name": .string("vllm"), "image": .string("vllm:latest")])])
                ]),
            ]),
        ]),
    ])
}

/// A minimal Pod.
func pod(_ name: String, namespace: String = "default", labels: [String: String] = [:]) -> JSONValue {
    .object([
        "apiVersion": .string("v1"), "kind": .string("Pod"),
        "metadata": .object([
            "name": .string(name), "namespace": .string(namespace),
            "labels": .object(labels.mapValues { JSONValue.string($0) }),
        ]),
        "spec": .object(["containers": .array([.object(["name": .string("c"), "image": .string("busybox")])])]),
    ])
}
