import Foundation

/// A throwaway certificate authority and a serving certificate for `127.0.0.1` / `localhost` signed by it, made
/// with the `openssl` command-line tool (EC P-256, valid for two days).
struct TestCertificates: Sendable {
    var caCertificatePath: String
    var caCertificatePEM: String
    var serverCertificatePath: String
    var serverKeyPath: String

    /// An `openssl` run that failed.
    struct GenerationError: Error, CustomStringConvertible {
        var arguments: [String]
        var status: Int32
        var output: String
        var description: String {
            "openssl \(arguments.joined(separator: " ")) exited with \(status): \(output)"
        }
    }

    static func generate(in directory: URL) async throws -> TestCertificates {
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let extensions = """
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature, keyEncipherment
            extendedKeyUsage = serverAuth
            subjectAltName = IP:127.0.0.1, DNS:localhost

            """
        try extensions.write(toFile: path("server.ext"), atomically: true, encoding: .utf8)
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
        ]
        for arguments in steps { try await runOpenSSL(arguments) }
        return TestCertificates(
            caCertificatePath: path("ca.crt"),
            caCertificatePEM: try String(contentsOfFile: path("ca.crt"), encoding: .utf8),
            serverCertificatePath: path("server.crt"),
            serverKeyPath: path("server.key")
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
