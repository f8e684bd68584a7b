import Foundation

/// A throwaway certificate authority, a serving certificate for `127.0.0.1` / `localhost` and a client certificate
/// signed by it, made with the `openssl` command-line tool (EC P-256, valid for two days).
public struct TestCertificates: Sendable {
    public var caCertificatePath: String
    public var caCertificatePEM: String
    public var serverCertificatePath: String
    public var serverKeyPath: String
    /// For mutual TLS: `CN=inference-autoscaler`, extended key usage clientAuth.
    public var clientCertificatePath: String
    public var clientKeyPath: String

    /// An `openssl` run that failed.
    struct GenerationError: Error, CustomStringConvertible {
        var arguments: [String]
        var status: Int32
        var output: String
        var description: String {
            "openssl \(arguments.joined(separator: " ")) exited with \(status): \(output)"
        }
    }

    public static func generate(in directory: URL) async throws -> TestCertificates {
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let extensions = """
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature, keyEncipherment
            extendedKeyUsage = serverAuth
            subjectAltName = IP:127.0.0.1, DNS:localhost

            """
        try extensions.write(toFile: path("server.ext"), atomically: true, encoding: .utf8)
        let clientExtensions = """
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature
            extendedKeyUsage = clientAuth

            """
        try clientExtensions.write(toFile: path("client.ext"), atomically: true, encoding: .utf8)
        let steps: [[String]] = [
            ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path("ca.key")],
            [
                "req", "-x509", "-new", "-key", path("ca.key"), "-sha256", "-days", "2",
                "-subj", "/CN=kubernetes-test-ca", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", path("ca.crt"),
            ],
            ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path("server.key")],
            ["req", "-new", "-key", path("server.key"), "-subj", "/CN=kube-apiserver", "-out", path("server.csr")],
            [
                "x509", "-req", "-in", path("server.csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"),
                "-CAcreateserial", "-CAserial", path("ca.srl"), "-days", "2", "-sha256",
                "-extfile", path("server.ext"), "-out", path("server.crt"),
            ],
            ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path("client.key")],
            [
                "req", "-new", "-key", path("client.key"), "-subj", "/CN=inference-autoscaler", "-out",
                path("client.csr"),
            ],
            [
                "x509", "-req", "-in", path("client.csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"),
                "-CAserial", path("ca.srl"), "-days", "2", "-sha256", "-extfile", path("client.ext"),
                "-out", path("client.crt"),
            ],
        ]
        for arguments in steps { try await runOpenSSL(arguments) }
        return TestCertificates(
            caCertificatePath: path("ca.crt"),
            caCertificatePEM: try String(contentsOfFile: path("ca.crt"), encoding: .utf8),
            serverCertificatePath: path("server.crt"),
            serverKeyPath: path("server.key"),
            clientCertificatePath: path("client.crt"),
            clientKeyPath: path("client.key")
        )
    }

    /// Runs `openssl` without blocking a thread of the cooperative pool: the exit arrives by termination handler.
    private static func runOpenSSL(_ arguments: [String]) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { finished in continuation.resume(returning: finished.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard status == 0 else { throw GenerationError(arguments: arguments, status: status, output: text) }
    }
}
