import ArgumentParser
import AutoscalerCore
import Controller
import Foundation
import KubernetesClient
import Logging
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

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level \(logLevel)") }
        guard ["text", "json"].contains(logFormat) else { throw ValidationError("--log-format: use text or json") }
        guard maxConcurrentReconciles >= 1 else { throw ValidationError("--max-concurrent-reconciles must be >= 1") }
        if let defaultPrometheus, URL(string: defaultPrometheus)?.scheme == nil {
            throw ValidationError("--default-prometheus: not a URL: \(defaultPrometheus)")
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

        let client = KubernetesAPIClient(configuration: cluster, logger: logger)
        let controller = ControllerService(
            client: client, signals: PrometheusSignalSource(defaultAddress: defaultPrometheus.flatMap(URL.init(string:))),
            configuration: .init(namespaces: namespaces, maxConcurrentReconciles: maxConcurrentReconciles), logger: logger)
        let metrics = SharedText()
        let probes = try await ProbeServer.start(
            addresses: [healthProbeBindAddress, metricsBindAddress],
            routes: .init(ready: { controller.hasSynced }, metrics: { metrics.value }))

        // SIGTERM (the kubelet) and SIGINT end the run; the caches and workers stop with the task group.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await controller.run() }
            group.addTask {
                // Keeps /metrics current without async work in the event loop.
                while !Task.isCancelled {
                    let text = await controller.metricsText()
                    metrics.value = text
                    try await Task.sleep(for: .seconds(2))
                }
            }
            group.addTask { await Self.waitForTermination() }
            _ = try await group.next()
            group.cancelAll()
        }
        logger.info("stopping")
        try? await probes.stop()
    }

    static func waitForTermination() async {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        let sources = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
        for await _ in stream { break }
        sources.forEach { $0.cancel() }
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
        let time = ISO8601DateFormatter().string(from: Date())
        let line: String
        if json {
            var object: [String: String] = ["time": time, "level": "\(event.level)", "logger": label, "msg": "\(event.message)"]
            for (key, value) in merged { object[key] = "\(value)" }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        } else {
            let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            line = "\(time) \(event.level) \(label): \(event.message)\(fields.isEmpty ? "" : " " + fields)"
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
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
