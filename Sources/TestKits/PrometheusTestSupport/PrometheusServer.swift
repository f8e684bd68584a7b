import CurlHTTP
import Foundation

/// A real Prometheus (the Debian package's binary) on a free loopback port, with a TSDB in a temporary directory,
/// scraping the given targets every second. Stopped with `stop()`.
public final class PrometheusServer: @unchecked Sendable {
    public let url: URL
    /// `prometheus --version`'s first line.
    public let version: String
    private let process: Process
    private let directory: URL
    private let http: CurlHTTPClient
    private let web: WebConfiguration?

    /// Prometheus' own `--web.config.file`: TLS (optionally requiring a client certificate) and basic-auth users.
    public struct WebConfiguration: Sendable {
        public var certificateFile: String
        public var keyFile: String
        /// When set, a client certificate signed by this CA is required.
        public var clientCAFile: String?
        /// The CA that signed `certificateFile`, for the server's own readiness checks.
        public var caFile: String
        /// Username to bcrypt hash (`$2b$...`).
        public var users: [String: String]
        /// A user and password the readiness checks log in with.
        public var login: (username: String, password: String)?
        /// A client certificate and key for the readiness checks.
        public var clientCertificate: (certificate: String, key: String)?

        public init(
            certificateFile: String, keyFile: String, caFile: String, clientCAFile: String? = nil,
            users: [String: String] = [:], login: (username: String, password: String)? = nil,
            clientCertificate: (certificate: String, key: String)? = nil
        ) {
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.caFile = caFile
            self.clientCAFile = clientCAFile
            self.users = users
            self.login = login
            self.clientCertificate = clientCertificate
        }

        var yaml: String {
            var text = "tls_server_config:\n  cert_file: \(certificateFile)\n  key_file: \(keyFile)\n"
            if let clientCAFile {
                text += "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: \(clientCAFile)\n"
            }
            if !users.isEmpty {
                text += "basic_auth_users:\n"
                for (user, hash) in users.sorted(by: { $0.key < $1.key }) { text += "  \(user): '\(hash)'\n" }
            }
            return text
        }
    }

    public static func binary() throws -> String {
        for candidate in ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw SetupError("prometheus is not installed: run `make test` (it installs the Debian package)")
    }

    public struct SetupError: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// Starts Prometheus scraping `targets` (`host:port`) with `honor_labels`, so the fixture's `namespace` and
    /// `pod` labels are kept as a pod's own would be after service discovery.
    /// - Parameter port: a port to listen on (to restart a stopped server where its clients expect it); a free one
    ///   when nil.
    public static func start(
        scraping targets: [String], extraScrapeConfig: String = "", port fixedPort: Int? = nil,
        web: WebConfiguration? = nil
    ) async throws -> PrometheusServer {
        let config = """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: fixture
                honor_labels: true
                static_configs:
                  - targets: [\(targets.map { "'\($0)'" }.joined(separator: ", "))]
            \(extraScrapeConfig)
            """
        return try await start(configuration: config, port: fixedPort, web: web)
    }

    /// Starts Prometheus on a history written beforehand: `openMetrics` (samples with timestamps, ending in
    /// `# EOF`) is turned into TSDB blocks by `promtool tsdb create-blocks-from openmetrics`, as an operator
    /// backfills, and nothing is scraped.
    public static func start(backfilledWith openMetrics: String) async throws -> PrometheusServer {
        try await start(configuration: "global:\n  scrape_interval: 15s\n", backfill: openMetrics)
    }

    /// Starts Prometheus with a whole `prometheus.yml`; its own log goes to `logFile` (or nowhere).
    public static func start(
        configuration: String, logFile: String? = nil, port fixedPort: Int? = nil, web: WebConfiguration? = nil,
        backfill: String? = nil
    ) async throws -> PrometheusServer {
        let binary = try binary()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("prometheus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configFile = directory.appendingPathComponent("prometheus.yml")
        try configuration.write(to: configFile, atomically: true, encoding: .utf8)
        let webFile = directory.appendingPathComponent("web.yml")
        if let web { try web.yaml.write(to: webFile, atomically: true, encoding: .utf8) }
        let version = try runProcess(binary, ["--version"]).split(separator: "\n").first.map(String.init) ?? "unknown"
        if let backfill {
            let input = directory.appendingPathComponent("backfill.om")
            try backfill.write(to: input, atomically: true, encoding: .utf8)
            let promtool = URL(fileURLWithPath: binary).deletingLastPathComponent().appendingPathComponent("promtool")
            let output = try runProcess(
                promtool.path,
                [
                    "tsdb", "create-blocks-from", "openmetrics", input.path,
                    directory.appendingPathComponent("data").path,
                ])
            guard !output.contains("error") else { throw SetupError("promtool could not backfill: \(output)") }
        }

        for _ in 0..<5 {
            let port = try fixedPort ?? freePort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = [
                "--config.file=\(configFile.path)",
                "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
                "--web.listen-address=127.0.0.1:\(port)", "--log.level=\(logFile == nil ? "warn" : "info")",
            ]
            if web != nil { process.arguments! += ["--web.config.file=\(webFile.path)"] }
            if let logFile { FileManager.default.createFile(atPath: logFile, contents: nil) }
            let log = FileHandle(forWritingAtPath: logFile ?? "/dev/null")
            process.standardOutput = log
            process.standardError = log
            try process.run()
            let url = URL(string: "\(web == nil ? "http" : "https")://127.0.0.1:\(port)")!
            let server = PrometheusServer(url: url, version: version, process: process, directory: directory, web: web)
            if try await server.waitUntilReady() { return server }
            server.terminate()
        }
        throw SetupError("Prometheus did not become ready")
    }

    private init(url: URL, version: String, process: Process, directory: URL, web: WebConfiguration?) {
        self.url = url
        self.version = version
        self.process = process
        self.directory = directory
        self.web = web
        http = CurlHTTPClient(
            tls: TLSSettings(
                caCertificateFile: web?.caFile, clientCertificateFile: web?.clientCertificate?.certificate,
                clientKeyFile: web?.clientCertificate?.key))
    }

    /// Rewrites the web configuration (Prometheus reads it again on every request): a password rotation.
    public func setUsers(_ users: [String: String]) throws {
        guard var web else { return }
        web.users = users
        try web.yaml.write(to: directory.appendingPathComponent("web.yml"), atomically: true, encoding: .utf8)
    }

    private func request(_ url: URL) -> HTTPRequest {
        var request = HTTPRequest(url: url, timeout: 2)
        if let login = web?.login {
            let encoded = Data("\(login.username):\(login.password)".utf8).base64EncodedString()
            request.headers.add("Authorization", "Basic \(encoded)")
        }
        return request
    }

    /// Polls `/-/ready` for up to 20 s; false if the process died (a port clash).
    private func waitUntilReady() async throws -> Bool {
        for _ in 0..<200 {
            if !process.isRunning { return false }
            if let response = try? await http.send(request(url.appendingPathComponent("-/ready"))),
                response.status == 200
            {
                return true
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Waits until Prometheus has scraped `query` into a non-empty answer (scrapes are every second).
    public func waitForSeries(_ query: String, timeout: Double = 20) async throws {
        var components = URLComponents(url: url.appendingPathComponent("api/v1/query"), resolvingAgainstBaseURL: false)!
        components.queryItems = [URLQueryItem(name: "query", value: query)]
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let response = try? await http.send(request(components.url!)),
                String(decoding: response.body, as: UTF8.self).contains("\"result\":[{")
            {
                return
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw SetupError("no series for \(query) after \(timeout) s")
    }

    private func terminate() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    public func stop() {
        terminate()
        try? FileManager.default.removeItem(at: directory)
    }

    /// A port nothing listens on now (bound to an ephemeral port, then released).
    public static func freePort() throws -> Int {
        let bound = try LoopbackSocket()
        bound.close()
        return bound.port
    }
}

/// Runs a program to its end and returns what it printed (stdout and stderr together).
public func runProcess(_ binary: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

/// A TCP socket bound to an ephemeral port on 127.0.0.1.
public final class LoopbackSocket: @unchecked Sendable {
    public let port: Int
    private let descriptor: Int32

    public init() throws {
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else {
            #if canImport(Glibc)
            _ = Glibc.close(descriptor)
            #endif
            throw PrometheusServer.SetupError("cannot bind a loopback socket")
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        self.descriptor = descriptor
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Accepts connections into the backlog and never answers them: a server that hangs.
    public func listenSilently() {
        _ = listen(descriptor, 16)
    }

    public func close() {
        #if canImport(Glibc)
        _ = Glibc.close(descriptor)
        #else
        _ = Darwin.close(descriptor)
        #endif
    }
}
