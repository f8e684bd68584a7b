import ArgumentParser
import Controller
import Signals
import ControllerOptions
import Foundation
import KubernetesClient
import KubernetesModel
import Logging
import ServiceLifecycle
import Synchronization

/// `run`: the controller. In a pod it needs no flags.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the controller: watch policies, read signals, scale targets.")

    @OptionGroup var options: ControllerOptions

    func run() async throws {
        let level = Logger.Level(rawValue: options.logLevel) ?? .info
        let json = options.logFormat == "json"
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
                kubeconfig: options.kubeconfig, context: options.context, environment: environment, homeDirectory: NSHomeDirectory())
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
                rateLimit: .init(qps: options.kubeApiQps, burst: options.kubeApiBurst),
                observer: { metrics.kubernetesRequest(verb: $0, code: $1, seconds: $2) }),
            logger: logger)
        var elector: LeaderElector?
        if options.leaderElect {
            let namespace =
                options.leaderElectionNamespace ?? cluster.namespace
            let identity = "\(ProcessInfo.processInfo.hostName)_\(UUID().uuidString.lowercased())"
            elector = LeaderElector(
                client: client,
                configuration: .init(
                    namespace: namespace, name: options.leaderElectionId, identity: identity,
                    leaseDuration: options.leaderElectLeaseDuration, renewDeadline: options.leaderElectRenewDeadline,
                    retryPeriod: options.leaderElectRetryPeriod),
                logger: logger)
            logger.info(
                "leader election on", metadata: ["lease": "\(namespace)/\(options.leaderElectionId)", "identity": "\(identity)"])
        }
        let controller = ControllerService(
            client: client,
            signals: PrometheusSignalSource(
                defaultAddress: options.defaultPrometheus.flatMap(URL.init(string:)),
                observer: { metrics.prometheusQuery(succeeded: $0, seconds: $1) }),
            configuration: .init(
                namespaces: options.namespaces, maxConcurrentReconciles: options.maxConcurrentReconciles,
                customQueryNamespaces: Set(options.customQueryNamespaces)),
            leadership: elector, metrics: metrics, logger: logger)
        let text = SharedText()
        let probes = try await ProbeServer.start(
            addresses: [options.healthProbeBindAddress, options.metricsBindAddress],
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
                DispatchQueue.global().asyncAfter(deadline: .now() + options.shutdownTimeout) {
                    logger.error("graceful shutdown took longer than \(options.shutdownTimeout) s: exiting")
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
