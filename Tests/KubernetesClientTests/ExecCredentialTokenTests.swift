import Foundation
import KubernetesClient
import KubernetesModel
import Synchronization
import Testing

@Suite("Exec credential plugins")
struct ExecCredentialTokenTests {
    static let v1 = "client.authentication.k8s.io/v1"

    /// The `ExecCredential` request the echo plugin saw, decoded from the third part of its token.
    private func execInfo(fromToken token: String) throws -> [String: Any] {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        try #require(parts.count == 3, "token \(token)")
        let data = try #require(Data(base64Encoded: String(parts[2])))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    // MARK: From a kubeconfig

    @Test func pluginGetsArgumentsEnvironmentAndExecInfo() async throws {
        let fixtures = try ConfigFixtures()
        let config = try ClusterConfigurationLoader.kubeconfig(
            paths: [fixtures.path("exec.yaml")], context: "exec", environment: execPluginTestEnvironment)
        let token = try #require(try await config.credentials.currentToken())
        #expect(token.hasPrefix("hello.first-arg."))
        let info = try execInfo(fromToken: token)
        #expect(info["apiVersion"] as? String == Self.v1)
        #expect(info["kind"] as? String == "ExecCredential")
        let spec = try #require(info["spec"] as? [String: Any])
        #expect(spec["interactive"] as? Bool == false)
        let cluster = try #require(spec["cluster"] as? [String: Any])
        #expect(cluster["server"] as? String == "https://exec.example.com:6443")
        #expect(cluster["certificate-authority-data"] as? String == KubeconfigLoadingTests.devCA.base64EncodedString())
        #expect((cluster["config"] as? [String: Any])?["audience"] as? String == "autoscaler")
        #expect(cluster["insecure-skip-tls-verify"] == nil)
    }

    @Test func v1beta1PluginWithoutClusterInfo() async throws {
        let fixtures = try ConfigFixtures()
        let config = try ClusterConfigurationLoader.kubeconfig(
            paths: [fixtures.path("exec.yaml")], context: "exec-beta", environment: execPluginTestEnvironment)
        guard case .token(let source) = config.credentials, let exec = source as? ExecCredentialToken else {
            Issue.record("expected an exec credential source")
            return
        }
        // `plugins/echo-info.sh` has a slash, so it is resolved against the kubeconfig's directory.
        #expect(exec.plugin.command == fixtures.path("plugins/echo-info.sh"))
        let token = try await exec.token(refresh: false)
        let info = try execInfo(fromToken: token)
        #expect(info["apiVersion"] as? String == "client.authentication.k8s.io/v1beta1")
        #expect((info["spec"] as? [String: Any])?["cluster"] == nil)
    }

    @Test func wrongAPIVersionIsAnError() async throws {
        let fixtures = try ConfigFixtures()
        let config = try ClusterConfigurationLoader.kubeconfig(
            paths: [fixtures.path("exec.yaml")], context: "wrong-version", environment: execPluginTestEnvironment)
        let error = await #expect(throws: ConfigurationError.self) { try await config.credentials.currentToken() }
        #expect(error?.code == .execPluginInvalidOutput)
        #expect(error?.message.contains(fixtures.path("plugins/echo-info.sh")) == true, "\(String(describing: error))")
        #expect(error?.message.contains("client.authentication.k8s.io/v1beta1") == true)
    }

    @Test func failingPluginReportsItsStderr() async throws {
        let fixtures = try ConfigFixtures()
        let config = try ClusterConfigurationLoader.kubeconfig(
            paths: [fixtures.path("exec.yaml")], context: "failing", environment: execPluginTestEnvironment)
        let error = await #expect(throws: ConfigurationError.self) { try await config.credentials.currentToken() }
        #expect(error?.code == .execPluginFailed)
        #expect(
            error?.message
                == "exec plugin \(fixtures.path("plugins/fail.sh")) exited with status 1: "
                + "error: the refresh token has expired; run 'cloud login'")
    }

    @Test func missingPluginNamesItAndTheInstallHint() async throws {
        let fixtures = try ConfigFixtures()
        let config = try ClusterConfigurationLoader.kubeconfig(
            paths: [fixtures.path("exec.yaml")], context: "missing", environment: execPluginTestEnvironment)
        let error = await #expect(throws: ConfigurationError.self) { try await config.credentials.currentToken() }
        #expect(error?.code == .execPluginNotFound)
        #expect(error?.message.contains("no-such-credential-plugin not found in PATH") == true)
        #expect(error?.message.contains("install it with your package manager") == true)
    }

    @Test func bareCommandIsFoundInPath() async throws {
        let fixtures = try ConfigFixtures()
        let plugin = ExecPluginConfiguration(apiVersion: Self.v1, command: "respond.sh")
        let source = ExecCredentialToken(
            plugin: plugin,
            environment: [
                "PATH": "/usr/bin:/bin:\(fixtures.path("plugins"))", "RESPONSE": Self.respond(token: "found"),
            ])
        #expect(try await source.token(refresh: false) == "found")
    }

    // MARK: Output checks

    static func respond(token: String) -> String {
        #"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"\#(token)"}}"#
    }

    /// An `ExecCredential` v1 with `members` after `kind` (a leading comma included).
    static func credential(_ members: String) -> String {
        #"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential""# + members + "}"
    }

    static let badResponses: [(String, ConfigurationError.Code, String)] = [
        ("not json at all", .execPluginInvalidOutput, "did not print an ExecCredential as JSON"),
        (#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"Pod"}"#, .execPluginInvalidOutput, "kind Pod"),
        (credential(""), .execPluginInvalidOutput, "no status"),
        (credential(#","status":{}"#), .execPluginInvalidOutput, "no status.token"),
        (
            credential(#","status":{"token":"t","expirationTimestamp":"tomorrow"}"#), .execPluginInvalidOutput,
            "tomorrow, which is not an RFC 3339 time"
        ),
        (
            credential(#","status":{"clientCertificateData":"-----BEGIN","clientKeyData":"-----BEGIN"}"#),
            .unsupported, "client certificates from exec plugins are not supported yet"
        ),
    ]

    @Test(arguments: badResponses)
    func badOutputIsAnErrorNamingThePlugin(
        _ response: String, _ code: ConfigurationError.Code, _ words: String
    ) async throws {
        let fixtures = try ConfigFixtures()
        let command = fixtures.path("plugins/respond.sh")
        let source = ExecCredentialToken(
            plugin: ExecPluginConfiguration(apiVersion: Self.v1, command: command),
            environment: execPluginTestEnvironment.merging(["RESPONSE": response]) { $1 })
        let error = await #expect(throws: ConfigurationError.self) { try await source.token(refresh: false) }
        #expect(error?.code == code, "\(String(describing: error))")
        #expect(error?.message.contains("exec plugin \(command)") == true, "\(String(describing: error))")
        #expect(error?.message.contains(words) == true, "\(String(describing: error))")
    }

    // MARK: Caching

    /// The counting plugin, answering with tokens that expire at `expiry` ("" for none).
    private func countingPlugin(
        _ fixtures: ConfigFixtures, expiry: String, delay: String = "", now: @escaping @Sendable () -> Date = { Date() }
    ) -> ExecCredentialToken {
        ExecCredentialToken(
            plugin: ExecPluginConfiguration(
                apiVersion: Self.v1, command: fixtures.path("plugins/counting.sh"), arguments: [expiry],
                environment: [
                    .init(name: "COUNT_FILE", value: fixtures.path("count")), .init(name: "DELAY", value: delay),
                ]),
            environment: execPluginTestEnvironment, now: now)
    }

    private func runs(_ fixtures: ConfigFixtures) throws -> Int {
        Int(try fixtures.contents("count").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    @Test func cachedUntilRefresh() async throws {
        let fixtures = try ConfigFixtures()
        let source = countingPlugin(fixtures, expiry: "2999-01-01T00:00:00Z")
        #expect(try await source.token(refresh: false) == "run-1")
        #expect(try await source.token(refresh: false) == "run-1")
        #expect(try runs(fixtures) == 1)
        #expect(try await source.token(refresh: true) == "run-2")
        #expect(try await source.token(refresh: false) == "run-2")
        #expect(try runs(fixtures) == 2)
    }

    @Test func withoutExpiryCachedForever() async throws {
        let fixtures = try ConfigFixtures()
        let source = countingPlugin(fixtures, expiry: "")
        for _ in 0..<3 { #expect(try await source.token(refresh: false) == "run-1") }
        #expect(try runs(fixtures) == 1)
    }

    @Test func expiredTokenRunsThePluginAgain() async throws {
        let fixtures = try ConfigFixtures()
        let source = countingPlugin(fixtures, expiry: "2000-01-01T00:00:00Z")
        #expect(try await source.token(refresh: false) == "run-1")
        #expect(try await source.token(refresh: false) == "run-2")
    }

    @Test func cachedUntilShortlyBeforeExpirationTimestamp() async throws {
        let fixtures = try ConfigFixtures()
        let expiry = try #require(Timestamp.parse("2030-01-01T00:00:00Z"))
        let clock = Mutex(expiry.addingTimeInterval(-3600))
        let source = countingPlugin(fixtures, expiry: "2030-01-01T00:00:00Z", now: { clock.withLock { $0 } })
        #expect(try await source.token(refresh: false) == "run-1")
        clock.withLock { $0 = expiry.addingTimeInterval(-11) }
        #expect(try await source.token(refresh: false) == "run-1")
        // Within the 10 s margin: treated as expired.
        clock.withLock { $0 = expiry.addingTimeInterval(-9) }
        #expect(try await source.token(refresh: false) == "run-2")
    }

    @Test func concurrentCallersShareOneRun() async throws {
        let fixtures = try ConfigFixtures()
        let source = countingPlugin(fixtures, expiry: "", delay: "0.3")
        let tokens = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<5 { group.addTask { try await source.token(refresh: false) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(tokens == Array(repeating: "run-1", count: 5))
        #expect(try runs(fixtures) == 1)
    }

    // MARK: Bounded

    /// The hung plugin: it writes its pid to `pidFile`, then sleeps `seconds`; only a kill ends it sooner.
    private func hungPlugin(
        _ fixtures: ConfigFixtures, pidFile: String, sleeping seconds: Int, timeout: Duration
    ) -> ExecCredentialToken {
        ExecCredentialToken(
            plugin: ExecPluginConfiguration(
                apiVersion: Self.v1, command: fixtures.path("plugins/slow.sh"), arguments: ["\(seconds)"],
                environment: [.init(name: "PID_FILE", value: pidFile)]),
            environment: execPluginTestEnvironment, timeout: timeout)
    }

    /// Polls `condition` every 20 ms until it holds (true) or `seconds` have passed (false).
    private func eventually(within seconds: Int, _ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    /// The pid a hung plugin wrote to `file`, once it has (it does so first thing); nil after 30 s without.
    private func pid(in file: String) async throws -> pid_t? {
        var pid: pid_t?
        _ = try await eventually(within: 30) {
            let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
            return pid != nil
        }
        return pid
    }

    /// Whether process `pid` has ended: gone, or a zombie that its parent has not reaped yet.
    private static func hasEnded(_ pid: pid_t) -> Bool {
        if kill(pid, 0) != 0 { return errno == ESRCH }
        #if os(Linux)
        // "pid (command) state ...": the state is the first field after the last ")".
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
        #else
        return false
        #endif
    }

    /// Kills a plugin that a failed test left running.
    private static func cleanUp(_ pid: pid_t) {
        if !hasEnded(pid) { kill(pid, SIGKILL) }
    }

    @Test(.timeLimit(.minutes(1)))
    func hungPluginIsKilledAfterTheTimeout() async throws {
        let fixtures = try ConfigFixtures()
        let pidFile = fixtures.path("hung.pid")
        // It would sleep for an hour. Its 5 s timeout leaves it ample time to write its pid first, even on a loaded
        // machine; and were the call to wait for the plugin rather than kill it, the 1-minute time limit would fail it.
        let source = hungPlugin(fixtures, pidFile: pidFile, sleeping: 3600, timeout: .seconds(5))
        let error = await #expect(throws: ConfigurationError.self) { try await source.token(refresh: false) }
        #expect(error?.code == .execPluginTimedOut)
        #expect(error?.message.contains(fixtures.path("plugins/slow.sh")) == true)
        #expect(error?.message.contains("was killed") == true)
        // Killed: the process has ended, 59 minutes before its sleep would have.
        let pid = try #require(try await pid(in: pidFile), "the plugin never wrote its pid")
        defer { Self.cleanUp(pid) }
        #expect(try await eventually(within: 30) { Self.hasEnded(pid) }, "plugin \(pid) still runs")
    }

    @Test(.timeLimit(.minutes(1)))
    func cancellationKillsThePlugin() async throws {
        let fixtures = try ConfigFixtures()
        let pidFile = fixtures.path("hung.pid")
        // Its 30 s timeout would end a call that cancellation did not, with a timeout error instead.
        let source = hungPlugin(fixtures, pidFile: pidFile, sleeping: 3600, timeout: .seconds(30))
        try await withThrowingTaskGroup(of: (any Error)?.self) { group in
            group.addTask {
                do {
                    _ = try await source.token(refresh: false)
                    return nil
                } catch {
                    return error
                }
            }
            // Cancelled once the plugin runs (it has written its pid), not at a guess.
            let pid = try #require(try await pid(in: pidFile), "the plugin never wrote its pid")
            defer { Self.cleanUp(pid) }
            group.cancelAll()
            let error = try await group.next() ?? nil
            #expect(error is CancellationError, "\(String(describing: error))")
            #expect(try await eventually(within: 30) { Self.hasEnded(pid) }, "plugin \(pid) still runs")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func runningPluginsDoNotStarveOtherTasks() async throws {
        // More hung plugins than the cooperative pool has threads: their exits are awaited through continuations and
        // their output is read on threads of their own, so other tasks keep running while they hang. Were each to
        // block a pool thread, nothing else could run until the plugins ended by themselves a minute later.
        let fixtures = try ConfigFixtures()
        let count = max(4, ProcessInfo.processInfo.activeProcessorCount + 1)
        let pidFiles = (0..<count).map { fixtures.path("hung-\($0).pid") }
        let sources = pidFiles.map { hungPlugin(fixtures, pidFile: $0, sleeping: 60, timeout: .seconds(120)) }
        let returned = ReturnCount()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for source in sources {
                group.addTask {
                    _ = try? await source.token(refresh: false)
                    returned.count.withLock { $0 += 1 }
                }
            }
            // This task polls (short sleeps) until every plugin runs, then sleeps some more, all while the plugins
            // hang: no call may have returned by then, or the progress came only after they ended.
            var pids: [pid_t] = []
            for file in pidFiles { pids.append(try #require(try await pid(in: file), "a plugin never started")) }
            defer { pids.forEach(Self.cleanUp) }
            for _ in 0..<5 { try await Task.sleep(for: .milliseconds(20)) }
            #expect(returned.count.withLock { $0 } == 0)
            group.cancelAll()
            try await group.waitForAll()
            #expect(try await eventually(within: 30) { pids.allSatisfy(Self.hasEnded) }, "\(pids)")
        }
    }
}

/// Calls that returned, shared with the tasks that make them.
private final class ReturnCount: Sendable {
    let count = Mutex(0)
}
