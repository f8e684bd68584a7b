import ArgumentParser
import ControllerOptions
import Testing

@Suite struct ControllerOptionsTests {
    /// Every flag of `run`, each with a value other than its default.
    static let everyFlag = [
        "--kubeconfig", "/tmp/kubeconfig", "--context", "kind", "--namespace", "a", "--namespace", "b",
        "--default-prometheus", "http://127.0.0.1:9090", "--prometheus-bearer-token-file", "/var/run/token",
        "--prometheus-ca-file", "/etc/ca.crt", "--prometheus-cert-file", "/etc/tls.crt", "--prometheus-key-file",
        "/etc/tls.key", "--prometheus-header", "X-Scope-OrgID=platform", "--allow-prometheus",
        "https://thanos:9091", "--allow-prometheus-headers-in", "ml", "--allow-insecure-prometheus-in", "dev",
        "--no-pod-deletion-cost", "--stale-series-after", "120.0", "--max-concurrent-reconciles", "2", "--log-level",
        "debug",
        "--log-format", "json", "--metrics-bind-address", "127.0.0.1:1", "--health-probe-bind-address", "127.0.0.1:2",
        "--leader-elect", "--leader-election-namespace", "ops", "--leader-election-id", "lease",
        "--leader-elect-lease-duration", "30.0", "--leader-elect-renew-deadline", "20.0",
        "--leader-elect-retry-period", "4.0", "--allow-custom-queries-in", "ml", "--kube-api-qps", "50.0",
        "--kube-api-burst", "60", "--shutdown-timeout", "9.0",
    ]

    /// What a tool passes on is what the controller parses back: no flag lost on the way.
    @Test func argumentsParseBackToTheSameOptions() throws {
        let options = try ControllerOptions.parse(Self.everyFlag)
        let arguments = options.arguments
        #expect(arguments.first == "run")
        #expect(Array(arguments.dropFirst()) == Self.everyFlag)
        let reparsed = try ControllerOptions.parse(Array(arguments.dropFirst()))
        #expect(
            String(describing: Mirror(reflecting: reparsed).children.map(\.value))
                == String(describing: Mirror(reflecting: options).children.map(\.value)))
        // The test names every flag the options have (basic auth excludes the bearer token, so it comes apart).
        let flags = Set((Self.everyFlag + Self.basicAuth).filter { $0.hasPrefix("--") })
        #expect(flags.count == Mirror(reflecting: options).children.count)
        let basic = try ControllerOptions.parse(Self.basicAuth)
        #expect(Array(basic.arguments.dropFirst()) == Self.basicAuth)
    }

    static let basicAuth = ["--prometheus-username", "autoscaler", "--prometheus-password-file", "/etc/password"]

    @Test func defaultsPassNothingOn() throws {
        #expect(try ControllerOptions.parse([]).arguments == ["run"])
    }

    @Test func invalidFlagsAreRejectedWithTheFlagName() {
        #expect(throws: (any Error).self) { try ControllerOptions.parse(["--log-level", "loud"]) }
        #expect(throws: (any Error).self) { try ControllerOptions.parse(["--leader-elect-renew-deadline", "99"]) }
    }
}
