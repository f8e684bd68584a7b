import ArgumentParser
import AutoscalerCore
import Foundation
import Signals

/// How the command-line tools reach a Prometheus: credentials, headers and TLS (the address is each command's).
struct PrometheusAccess: ParsableArguments {
    @Option(help: "A file holding a bearer token for Prometheus (read on every query).")
    var bearerTokenFile: String?

    @Option(
        name: .customLong("header"), help: "An extra request header NAME=VALUE, e.g. X-Scope-OrgID=tenant (repeatable)."
    )
    var headers: [String] = []

    @Option(help: "A CA bundle to verify Prometheus' certificate.")
    var caFile: String?

    @Flag(help: "Do not verify Prometheus' TLS certificate.")
    var insecureSkipTLSVerify = false

    /// A client for `address` (or the policy's `spec.prometheus.address`), with the policy's headers and these, and
    /// the policy's timeout unless `timeout` is given.
    func client(
        address: String?, policy: ResolvedPolicy, flag: String, timeout: Double? = nil
    ) throws -> PrometheusQueryClient {
        guard let text = address ?? policy.prometheus.address, let url = URL(string: text) else {
            printError("no Prometheus address: pass \(flag) URL or set spec.prometheus.address")
            throw ExitCode(2)
        }
        var extra: [String: String] = policy.prometheus.spec.headers ?? [:]
        for header in headers {
            guard let equals = header.firstIndex(of: "=") else {
                printError("--header \(header): expected NAME=VALUE")
                throw ExitCode(2)
            }
            extra[String(header[..<equals])] = String(header[header.index(after: equals)...])
        }
        var authorization = PrometheusQueryClient.Authorization.none
        if let bearerTokenFile {
            authorization = .bearer { _ in
                try String(contentsOfFile: bearerTokenFile, encoding: .utf8).trimmingCharacters(
                    in: .whitespacesAndNewlines)
            }
        }
        return PrometheusQueryClient(
            configuration: .init(
                address: url, timeout: timeout ?? policy.prometheus.timeout,
                tls: .init(caCertificateFile: caFile, insecureSkipVerify: insecureSkipTLSVerify),
                authorization: authorization, headers: extra))
    }
}
