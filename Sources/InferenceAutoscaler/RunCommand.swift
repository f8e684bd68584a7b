import ArgumentParser
import AutoscalerCore
import Controller
import Foundation
import KubernetesClient
import Logging
import ServiceLifecycle
import Synchronization

/// `run`: the controller. In a pod it needs no flags.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the controller: watch policies, read signals, scale targets.")

    @Option(help: "Path to a kubeconfig (default: $KUBECONFIG, in-cluster, then ~/.kube/config).")
    var kubeconfig: String?

    @Option(help: "The kubeconfig context to use.")
    var context: String?

    @Option(name: .customLong("namespace"), help: "A namespace to watch (repeatable; default: all namespaces).")
    var namespaces: [String] = []

    @Option(help: "Prometheus URL for policies that name none.")
    var defaultPrometheus: String?

    @Option(help: "Policies reconciled at the same time.")
    var maxConcurrentReconciles = 4

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(help: "text or json.")
    var logFormat = "text"

    @Option(help: "Where /metrics is served.")
    var metricsBindAddress = ":8080"

    @Option(help: "Where /healthz and /readyz are served.")
    var healthProbeBindAddress = ":8081"

    @Flag(help: "Run as one of several replicas: only the holder of a coordination.k8s.io Lease writes.")
    var leaderElect = false

    @Option(help: "The Lease's namespace (default: $POD_NAMESPACE, else the service account's, else default).")
    var leaderElectionNamespace: String?

    @Option(help: "The Lease's name.")
    var leaderElectionId = "inference-autoscaler-leader"

    @Option(help: "Seconds a standby waits after the leader's last renewal before taking the lease.")
    var leaderElectLeaseDuration = 15.0

    @Option(help: "Seconds within which the leader must renew, or it stops writing and exits.")
    var leaderElectRenewDeadline = 10.0

    @Option(help: "Seconds between tries to acquire or renew the lease.")
    var leaderElectRetryPeriod = 2.0

    @Option(
        name: .customLong("allow-custom-queries-in"),
        help: "A namespace whose policies may use Custom queries (repeatable; * for all). Default: none.")
    var customQueryNamespaces: [String] = []

    @Option(help: "Requests per second to the Kubernetes API, sustained (a client-side token bucket).")
    var kubeApiQps = 20.0

    @Option(help: "Requests to the Kubernetes API allowed in a burst.")
    var kubeApiBurst = 30

    @Option(help: "Seconds a graceful shutdown may take before the controller exits anyway.")
    var shutdownTimeout = 20.0

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level \(logLevel)") }
        guard ["text", "json"].contains(logFormat) else { throw ValidationError("--log-format: use text or json") }
        guard maxConcurrentReconciles >= 1 else { throw ValidationError("--max-concurrent-reconciles must be >= 1") }
        if let defaultPrometheus, URL(string: defaultPrometheus)?.scheme == nil {
            throw ValidationError("--default-prometheus: not a URL: \(defaultPrometheus)")
        }
        guard leaderElectRetryPeriod > 0, leaderElectRenewDeadline > leaderElectRetryPeriod,
            leaderElectLeaseDuration > leaderElectRenewDeadline
        else {
            throw ValidationError(
                "leader election needs lease duration > renew deadline > retry period > 0 (got \(leaderElectLeaseDuration), "
                    + "\(leaderElectRenewDeadline), \(leaderElectRetryPeriod))")
        }
        guard shutdownTimeout > 0 else { throw ValidationError("--shutdown-timeout must be positive") }
        guard kubeApiQps > 0, kubeApiBurst >= 1 else {
            throw ValidationError("--kube-api-qps must be positive and --kube-api-burst at least 1")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let json = logFormat == "json"
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, json: json)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "inference-autoscaler")
        let environment = ProcessInfo.processInfo.environment
        let cluster: ClusterConfiguration
        do {
            cluster = try ClusterConfigurationLoader.load(
                kubeconfig: kubeconfig, context: context, environment: environment, homeDirectory: NSHomeDirectory())
        } catch {
            printError("cannot load the cluster configuration: \(error)")
            throw ExitCode(2)
        }
        for warning in cluster.warnings { logger.warning("\(warning)") }
        logger.info(
            "starting", metadata: ["version": "\(AutoscalerVersion.current)", "kubernetes.source": "\(cluster.source)"])

        let metrics = ControllerMetrics()
        let client = KubernetesAPIClient(
            configuration: cluster,
            options: .init(
                rateLimit: .init(qps: kubeApiQps, burst: kubeApiBurst),
                observer: { metrics.kubernetesRequest(verb: $0, code: $1, seconds: $2) }),
            logger: logger)
        var elector: LeaderElector?
        if leaderElect {
            let namespace =
                leaderElectionNamespace ?? cluster.namespace
            let identity = "\(ProcessInfo.processInfo.hostName)_\(UUID().uuidString.lowercased())"
            elector = LeaderElector(
                client: client,
                configuration: .init(
                    namespace: namespace, name: leaderElectionId, identity: identity,
                    leaseDuration: leaderElectLeaseDuration, renewDeadline: leaderElectRenewDeadline,
                    retryPeriod: leaderElectRetryPeriod),
                logger: logger)
            logger.info(
                "leader election on", metadata: ["lease": "\(namespace)/\(leaderElectionId)", "identity": "\(identity)"])
        }
        let controller = ControllerService(
            client: client,
            signals: PrometheusSignalSource(
                defaultAddress: defaultPrometheus.flatMap(URL.init(string:)),
                observer: { metrics.prometheusQuery(succeeded: $0, seconds: $1) }),
            configuration: .init(
                namespaces: namespaces, maxConcurrentReconciles: maxConcurrentReconciles,
                customQueryNamespaces: Set(customQueryNamespaces)),
            leadership: elector, metrics: metrics, logger: logger)
        let text = SharedText()
        let probes = try await ProbeServer.start(
            addresses: [healthProbeBindAddress, metricsBindAddress],
            routes: .init(ready: { controller.hasSynced }, metrics: { text.value }))

        // Shut down in reverse order: the controller finishes its reconciles, then the lease is released, then the
        // metrics stop. SIGTERM (the kubelet) or SIGINT start it; a second signal exits at once.
        var services: [any Service] = [GaugeRefresher(controller: controller, text: text)]
        if let elector { services.append(LeaseService(elector: elector)) }
        services.append(ControllerLifecycle(controller: controller))
        let group = ServiceGroup(
            configuration: .init(
                services: services.map {
                    .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .cancelGroup)
                },
                logger: logger))
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let signals = Atomic<Int>(0)
        let sources = [SIGTERM, SIGINT].map { (number: Int32) -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler {
                if signals.add(1, ordering: .relaxed).newValue > 1 {
                    logger.warning("second signal: exiting now")
                    Foundation.exit(1)
                }
                logger.info("shutting down: finishing the reconciles in flight")
                Task { await group.triggerGracefulShutdown() }
                // However long a reconcile hangs, the pod's grace period must not run out first.
                DispatchQueue.global().asyncAfter(deadline: .now() + shutdownTimeout) {
                    logger.error("graceful shutdown took longer than \(shutdownTimeout) s: exiting")
                    Foundation.exit(1)
                }
            }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        do {
            try await group.run()
        } catch let error as LeaderElector.LeadershipLost {
            logger.error("\(error): exiting so that this replica restarts as a standby")
            try? await probes.stop()
            throw ExitCode(1)
        }
        logger.info("stopped")
        try? await probes.stop()
    }
}

/// Log lines to stderr: `LEVEL label: message key=value …`, or one JSON object per line.
struct LineLogHandler: LogHandler {
    let label: String
    let json: Bool
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        // Not ISO8601DateFormatter: it loads ICU, several MiB of resident memory for a timestamp.
        let time = Timestamp.format(
            millis: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)), fractionDigits: 3)
        let line: String
        if json {
            var object: [String: String] = ["time": time, "level": "\(event.level)", "logger": label, "msg": "\(event.message)"]
            for (key, value) in merged { object[key] = "\(value)" }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let data = (try? encoder.encode(object)) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        } else {
            let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            line = "\(time) \(event.level) \(label): \(event.message)\(fields.isEmpty ? "" : " " + fields)"
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// Keeps `/metrics` current without async work on the event loop.
struct GaugeRefresher: Service {
    let controller: ControllerService
    let text: SharedText

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    text.value = await controller.metricsText()
                    try await Task.sleep(for: .seconds(2))
                }
            }
        } catch is CancellationError {}
    }
}

/// Holds the lease while the group runs; releases it on shutdown so that a standby takes over at once.
struct LeaseService: Service {
    let elector: LeaderElector

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await elector.run() }
        } catch is CancellationError {}
        // The release must not inherit the cancellation that ended the loop.
        await Task { await elector.release() }.value
    }
}

/// The controller, which on shutdown takes no new work and returns once the reconciles in flight are done.
struct ControllerLifecycle: Service {
    let controller: ControllerService

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await controller.run()
        } onGracefulShutdown: {
            Task { await controller.stopTakingWork() }
        }
    }
}

/// Text shared between a refresh loop and the HTTP handlers.
final class SharedText: Sendable {
    private let text = Mutex("")

    var value: String {
        get { text.withLock { $0 } }
        set { text.withLock { $0 = newValue } }
    }
}
