import Foundation
import Synchronization

/// A real control plane for tests, as controller-runtime's envtest gives Go: etcd, kube-apiserver with RBAC and
/// kube-controller-manager, started by `../shared/kube/control-plane` on free loopback ports under a temporary
/// directory. Each plane takes 5-10 s to start and about 430 MiB. `stop()` (or the last reference going away)
/// removes it; a detached watchdog does so if the test process dies first.
public final class KubernetesControlPlane: Sendable {
    /// How a plane is started.
    public struct Options: Sendable {
        /// Record every request in `directory/audit.log` at the `Metadata` level, for `auditEvents()`.
        public var auditLog: Bool
        /// More kube-apiserver flags (e.g. `--etcd-compaction-interval=10s`), also used by `startAPIServer()`. The
        /// script splits them on white space, so none may contain any.
        public var extraAPIServerArgs: [String]
        /// Run kube-controller-manager: Deployments get ReplicaSets and pods, owners' dependents are collected.
        public var controllerManager: Bool

        public init(auditLog: Bool = true, extraAPIServerArgs: [String] = [], controllerManager: Bool = true) {
            self.auditLog = auditLog
            self.extraAPIServerArgs = extraAPIServerArgs
            self.controllerManager = controllerManager
        }
    }

    /// A command that exited with a status other than 0.
    public struct CommandError: Error, CustomStringConvertible {
        public var command: [String]
        public var status: Int32
        public var standardOutput: String
        public var standardError: String

        public var description: String {
            let summary = "`\(command.joined(separator: " "))` exited with status \(status)"
            let detail = standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            return detail.isEmpty ? summary : "\(summary): \(detail)"
        }
    }

    /// The plane cannot be started or asked: the script or kubectl missing, the audit log off.
    public struct SetupError: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// The plane's own directory (certificates, etcd data, logs, kubeconfigs, the audit log); removed by `stop()`.
    public let directory: URL
    /// The API server, `https://127.0.0.1:PORT`.
    public let server: String
    /// A kubeconfig for `kubernetes-admin` in `system:masters`: everything is allowed.
    public let adminKubeconfig: URL
    /// The CA that signed the API server's certificate and the admin's client certificate.
    public let caCertificatePEM: String
    /// `directory/audit.log`; nil when `Options.auditLog` is off.
    public let auditLogFile: URL?
    private let script: String
    private let kubectlPath: String
    private let controllerManager: Bool
    /// The process environment plus `KUBE_APISERVER_EXTRA_ARGS` and `KUBECTL`, for every run of the script.
    private let environment: [String: String]
    private let stopped = Mutex(false)

    private init(
        directory: URL, server: String, caCertificatePEM: String, auditLogFile: URL?, script: String,
        kubectlPath: String, controllerManager: Bool, environment: [String: String]
    ) {
        self.directory = directory
        self.server = server
        self.adminKubeconfig = directory.appendingPathComponent("admin.kubeconfig")
        self.caCertificatePEM = caCertificatePEM
        self.auditLogFile = auditLogFile
        self.script = script
        self.kubectlPath = kubectlPath
        self.controllerManager = controllerManager
        self.environment = environment
    }

    deinit { stop() }

    /// Starts a plane in a new temporary directory and waits until the API server (and the controller manager)
    /// answer. The script picks free ports and only then starts the servers: another process of a busy test run can
    /// take a port in between, so a start that fails on a port in use is tried again on new ones.
    public static func start(_ options: Options = .init()) async throws -> KubernetesControlPlane {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await startOnce(options)
            } catch let error as CommandError where attempt < 3 && error.description.contains("address already in use")
            {
                continue
            }
        }
    }

    private static func startOnce(_ options: Options) async throws -> KubernetesControlPlane {
        let script = try scriptPath()
        let kubectl = try kubectlPath()
        let name = "kube-plane-\(UUID().uuidString.prefix(8).lowercased())"
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment
        environment["KUBECTL"] = kubectl
        do {
            var apiServerArguments = options.extraAPIServerArgs
            var auditLogFile: URL?
            if options.auditLog {
                let policy = directory.appendingPathComponent("audit-policy.yaml")
                try auditPolicy.write(to: policy, atomically: true, encoding: .utf8)
                let log = directory.appendingPathComponent("audit.log")
                // No rotation, so every line stays in the one file; blocking, so an event is written by the
                // request's own goroutine rather than a buffer that may lag.
                apiServerArguments =
                    [
                        "--audit-policy-file=\(policy.path)", "--audit-log-path=\(log.path)", "--audit-log-format=json",
                        "--audit-log-maxsize=0", "--audit-log-maxbackup=0", "--audit-log-mode=blocking",
                    ] + apiServerArguments
                auditLogFile = log
            }
            if let spaced = apiServerArguments.first(where: { $0.contains(where: \.isWhitespace) }) {
                throw SetupError("a kube-apiserver argument holds white space, which the script splits on: \(spaced)")
            }
            environment["KUBE_APISERVER_EXTRA_ARGS"] = apiServerArguments.joined(separator: " ")
            // Before `up`, so that even a test process killed while the plane starts leaves nothing behind.
            try startWatchdog(script: script, directory: directory, environment: environment)
            var arguments = ["up", directory.path]
            if !options.controllerManager { arguments.append("--no-controller-manager") }
            let up = scriptCommand(script, arguments, environment)
            _ = try up.check(await up.run())
            let env = try String(contentsOf: directory.appendingPathComponent("env"), encoding: .utf8)
            guard
                let server = env.split(separator: "\n").first(where: { $0.hasPrefix("APISERVER=") })?
                    .dropFirst("APISERVER=".count)
            else { throw SetupError("\(directory.path)/env names no APISERVER") }
            let ca = try String(contentsOf: directory.appendingPathComponent("pki/ca.crt"), encoding: .utf8)
            return KubernetesControlPlane(
                directory: directory, server: String(server), caCertificatePEM: ca, auditLogFile: auditLogFile,
                script: script, kubectlPath: kubectl, controllerManager: options.controllerManager,
                environment: environment)
        } catch {
            down(script: script, directory: directory, environment: environment)
            throw error
        }
    }

    /// Runs kubectl, as the admin unless `kubeconfig` says otherwise, and returns what it printed on stdout.
    /// Throws `CommandError` on a status other than 0 (`auth can-i` answers "no" with status 1).
    @discardableResult
    public func kubectl(_ arguments: [String], input: String? = nil, kubeconfig: URL? = nil) throws -> String {
        let command = Command(
            executable: kubectlPath, arguments: ["--kubeconfig", (kubeconfig ?? adminKubeconfig).path] + arguments,
            input: input)
        return try command.check(command.run()).standardOutput
    }

    /// Creates `serviceAccount` in `namespace` (and the namespace) if missing and writes a kubeconfig that
    /// authenticates as exactly that ServiceAccount (a bound token valid 24 h), so RBAC applies as in a cluster.
    public func serviceAccountKubeconfig(namespace: String, serviceAccount: String) throws -> URL {
        let file = directory.appendingPathComponent("\(namespace).\(serviceAccount).kubeconfig")
        let command = scriptCommand(["kubeconfig", directory.path, namespace, serviceAccount, file.path])
        _ = try command.check(command.run())
        return file
    }

    /// Stops kube-apiserver alone (etcd keeps the data): 2-20 s, as its graceful stop waits for open watches until
    /// the script kills it after 20 s. Within a few seconds of `start` it also ends kube-controller-manager (see
    /// `controllerManagerIsRunning`).
    public func stopAPIServer() async throws {
        let command = scriptCommand(["stop-apiserver", directory.path])
        _ = try command.check(await command.run())
    }

    /// Starts kube-apiserver again on the same port, with the same flags, and waits until `/readyz` answers.
    /// kube-controller-manager may not have lived through the outage: `controllerManagerIsRunning` tells.
    public func startAPIServer() async throws {
        let command = scriptCommand(["start-apiserver", directory.path])
        _ = try command.check(await command.run())
    }

    /// Whether kube-controller-manager runs. It survives an API server restart once it has built its controllers,
    /// but exits for good, restarted by nobody, when the server goes away while it still builds them: `start`
    /// returns as soon as its `/healthz` answers, about a second before that.
    public var controllerManagerIsRunning: Bool {
        let pidFile = directory.appendingPathComponent("run/kube-controller-manager.pid")
        guard
            let pid = try? String(contentsOf: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        else { return false }
        return FileManager.default.fileExists(atPath: "/proc/\(pid)")
    }

    /// The audit log's `ResponseComplete` events (and a watch's `ResponseStarted`, once), oldest first, across API server restarts (they append).
    /// The server writes an event just after it has answered, so `auditEvent(timeout:where:)` is the way to
    /// look for a request that has only just returned.
    public func auditEvents() throws -> [AuditEvent] {
        guard let auditLogFile else { throw SetupError("the audit log is off (KubernetesControlPlane.Options)") }
        let data = try Data(contentsOf: auditLogFile)
        var lines = data.split(separator: UInt8(ascii: "\n"))
        // A line the server is still writing.
        if data.last != UInt8(ascii: "\n"), !lines.isEmpty { lines.removeLast() }
        let decoder = JSONDecoder()
        // A watch that is still open has only `ResponseStarted`: it counts from then, once.
        var watches = Set<String>()
        return try lines.compactMap { line in
            let event = try decoder.decode(AuditEvent.self, from: Data(line))
            if event.verb == "watch" {
                guard event.stage == "ResponseStarted" || event.stage == "ResponseComplete",
                    watches.insert(event.auditID).inserted
                else { return nil }
                return event
            }
            return event.stage == "ResponseComplete" ? event : nil
        }
    }

    /// The first audit event that matches, polling the log every 100 ms until `timeout`.
    public func auditEvent(
        timeout: Duration = .seconds(10), where matches: (AuditEvent) -> Bool
    ) async throws -> AuditEvent {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let event = try auditEvents().first(where: matches) { return event }
            guard ContinuousClock.now < deadline else {
                throw SetupError("no matching audit event in \(auditLogFile?.path ?? "") after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Stops every process of the plane and removes its directory (3-7 s). Only the first call does anything.
    public func stop() {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        if first { Self.down(script: script, directory: directory, environment: environment) }
    }

    private static func down(script: String, directory: URL, environment: [String: String]) {
        _ = try? scriptCommand(script, ["down", directory.path], environment).run()
        // `down` deletes the directory itself; this is for a script that failed half-way.
        try? FileManager.default.removeItem(at: directory)
    }

    /// The script, which leaves daemons behind for `up` and `start-apiserver`.
    private static func scriptCommand(_ script: String, _ arguments: [String], _ env: [String: String]) -> Command {
        Command(executable: script, arguments: arguments, environment: env, closesInheritedDescriptors: true)
    }

    private func scriptCommand(_ arguments: [String]) -> Command {
        Self.scriptCommand(script, arguments, environment)
    }

    /// `KUBE_CONTROL_PLANE`, or `shared/kube/control-plane` beside the package's checkout.
    public static func scriptPath() throws -> String {
        if let path = ProcessInfo.processInfo.environment["KUBE_CONTROL_PLANE"], !path.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw SetupError("KUBE_CONTROL_PLANE=\(path) is not an executable file")
            }
            return path
        }
        // This file is Sources/TestKits/KubernetesControlPlane/KubernetesControlPlane.swift in the package.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("../shared/kube/control-plane").standardizedFileURL.path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw SetupError(
                "the control-plane script is not at \(path): set KUBE_CONTROL_PLANE to the path of "
                    + "shared/kube/control-plane (see shared/kube/README.md)")
        }
        return path
    }

    /// `KUBECTL`, or the first kubectl on `PATH`.
    private static func kubectlPath() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["KUBECTL"], FileManager.default.isExecutableFile(atPath: path) { return path }
        let directories =
            (environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/local/bin", "/usr/bin"]
        for directory in directories {
            let path = URL(fileURLWithPath: directory).appendingPathComponent("kubectl").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw SetupError("kubectl is not installed: run `make kubectl`")
    }

    /// A shell, in a session of its own so that a Ctrl-C or a kill of the test's process group spares it, that runs
    /// `down` once the test process is gone (or a zombie) and exits by itself once `stop()` removed the directory.
    private static func startWatchdog(script: String, directory: URL, environment: [String: String]) throws {
        let setsid = "/usr/bin/setsid"
        guard FileManager.default.isExecutableFile(atPath: setsid) else {
            throw SetupError("\(setsid) is missing (util-linux): the plane's watchdog needs it")
        }
        let loop = """
            exec </dev/null >/dev/null 2>&1
            alive() {
                if [ -r "/proc/$1/stat" ]; then
                    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
                    [ -n "$state" ] && [ "$state" != Z ]
                else
                    kill -0 "$1" 2>/dev/null
                fi
            }
            while [ -d "$3" ] && alive "$1"; do sleep 1; done
            if [ -d "$3" ]; then exec "$2" down "$3"; fi
            """
        // `--fork`: setsid returns at once, and the watchdog is nobody's child but init's.
        let command = Command(
            executable: setsid,
            arguments: [
                "--fork", "/bin/sh", "-c", loop, "kube-plane-watchdog",
                String(ProcessInfo.processInfo.processIdentifier), script, directory.path,
            ],
            environment: environment, closesInheritedDescriptors: true)
        _ = try command.check(command.run())
    }
}

private let auditPolicy = """
    apiVersion: audit.k8s.io/v1
    kind: Policy
    omitStages: [RequestReceived]
    rules:
      - level: Metadata

    """
