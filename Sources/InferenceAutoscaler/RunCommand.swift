import ArgumentParser
import AutoscalerCore
import Controller
import ControllerOptions
import Foundation
import KubernetesClient
import KubernetesModel
import Logging
import ServiceLifecycle
import Signals

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
                kubeconfig: options.kubeconfig, context: options.context, environment: environment,
                homeDirectory: NSHomeDirectory())
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
        let elector =
            options.leaderElect ? leaderElector(client: client, defaultNamespace: cluster.namespace, logger) : nil
        let caches = ControllerCaches(client: client, namespaces: options.namespaces, logger: logger)
        let controller = ControllerService(
            caches: caches,
            cluster: LiveClusterAPI(
                client: client, caches: caches, instance: ProcessInfo.processInfo.hostName,
                gate: elector ?? AlwaysWrite(), logger: logger),
            signals: PrometheusSignalSource(
                defaultAddress: options.defaultPrometheus.flatMap(URL.init(string:)),
                defaultCredentials: .init(
                    bearerTokenFile: options.prometheusBearerTokenFile, username: options.prometheusUsername,
                    passwordFile: options.prometheusPasswordFile, caFile: options.prometheusCaFile,
                    certFile: options.prometheusCertFile, keyFile: options.prometheusKeyFile,
                    headers: options.prometheusHeaderValues),
                secrets: APISecretReader(client: client), staleAfter: options.staleSeriesAfter,
                observer: { metrics.prometheusQuery(succeeded: $0, seconds: $1) }),
            configuration: .init(
                maxConcurrentReconciles: options.maxConcurrentReconciles,
                permissions: TenantPermissions(
                    customQueryNamespaces: Set(options.customQueryNamespaces),
                    prometheusAddresses: Set(options.allowedPrometheusAddresses),
                    headerNamespaces: Set(options.prometheusHeaderNamespaces),
                    insecureNamespaces: Set(options.insecurePrometheusNamespaces),
                    defaultPrometheus: options.defaultPrometheus),
                markDeletionCosts: options.podDeletionCost),
            leadership: elector, metrics: metrics, logger: logger)

        // Started in this order, shut down in the reverse: the controller finishes its reconciles, then the lease is
        // released, then the probes and metrics stop. SIGTERM (the kubelet) or SIGINT start it; on a second signal, or
        // a shutdown longer than --shutdown-timeout (the group is cancelled), the watchdog exits at once.
        var services: [any Service] = [
            ShutdownWatchdog(logger: logger, cutShort: { Foundation.exit(1) }),
            ProbeService(
                addresses: [options.healthProbeBindAddress, options.metricsBindAddress],
                routes: .init(ready: { controller.hasSynced }, metrics: { metrics.text() }), logger: logger),
        ]
        if let elector { services.append(elector) }
        services.append(controller)
        var configuration = ServiceGroupConfiguration(
            services: services.map {
                .init(
                    service: $0, successTerminationBehavior: .gracefullyShutdownGroup,
                    failureTerminationBehavior: .cancelGroup)
            },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(options.shutdownTimeout)
        let release = Task { await StartUpPages.release(once: { controller.hasSynced }, logger: logger) }
        defer { release.cancel() }
        try await ServiceGroup(configuration: configuration).run()
        logger.info("stopped")
    }

    private func leaderElector(
        client: KubernetesAPIClient, defaultNamespace: String, _ logger: Logger
    ) -> LeaderElector<ContinuousClock> {
        let namespace = options.leaderElectionNamespace ?? defaultNamespace
        let identity = "\(ProcessInfo.processInfo.hostName)_\(UUID().uuidString.lowercased())"
        logger.info(
            "leader election on",
            metadata: ["lease": "\(namespace)/\(options.leaderElectionId)", "identity": "\(identity)"])
        return LeaderElector(
            client: client,
            configuration: .init(
                namespace: namespace, name: options.leaderElectionId, identity: identity,
                leaseDuration: options.leaderElectLeaseDuration, renewDeadline: options.leaderElectRenewDeadline,
                retryPeriod: options.leaderElectRetryPeriod),
            logger: logger)
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
            var object: [String: String] = [
                "time": time, "level": "\(event.level)", "logger": label, "msg": "\(event.message)",
            ]
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
