import ArgumentParser
import ControllerOptions
import Testing

@Suite struct ControllerOptionsTests {
    /// Every flag of `run`, each with a value other than its default.
    static let everyFlag = [
        "--kubeconfig", "/tmp/kubeconfig", "--context", "kind", "--namespace", "a", "--namespace", "b",
        "--default-prometheus", "http://127.0.0.1:9090", "--max-concurrent-reconciles", "2", "--log-level", "debug",
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
        // The test names every flag the options have.
        let flags = Set(Self.everyFlag.filter { $0.hasPrefix("--") })
        #expect(flags.count == Mirror(reflecting: options).children.count)
    }

    @Test func defaultsPassNothingOn() throws {
        #expect(try ControllerOptions.parse([]).arguments == ["run"])
    }

    @Test func invalidFlagsAreRejectedWithTheFlagName() {
        #expect(throws: (any Error).self) { try ControllerOptions.parse(["--log-level", "loud"]) }
        #expect(throws: (any Error).self) { try ControllerOptions.parse(["--leader-elect-renew-deadline", "99"]) }
    }
}
