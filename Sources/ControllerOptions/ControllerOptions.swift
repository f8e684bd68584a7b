import ArgumentParser
import Foundation
import Logging

/// The flags of `inference-autoscaler run`, in one place: the controller parses them, and the tools that start a
/// controller (the demo, the scale bench) fill them in and pass them on with `arguments`.
public struct ControllerOptions: ParsableArguments, Sendable {
    @Option(help: "Path to a kubeconfig (default: $KUBECONFIG, in-cluster, then ~/.kube/config).")
    public var kubeconfig: String?

    @Option(help: "The kubeconfig context to use.")
    public var context: String?

    @Option(name: .customLong("namespace"), help: "A namespace to watch (repeatable; default: all namespaces).")
    public var namespaces: [String] = []

    @Option(help: "Prometheus URL for policies that name none.")
    public var defaultPrometheus: String?

    @Option(help: "Policies reconciled at the same time.")
    public var maxConcurrentReconciles = 4

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    public var logLevel = "info"

    @Option(help: "text or json.")
    public var logFormat = "text"

    @Option(help: "Where /metrics is served.")
    public var metricsBindAddress = ":8080"

    @Option(help: "Where /healthz and /readyz are served.")
    public var healthProbeBindAddress = ":8081"

    @Flag(help: "Run as one of several replicas: only the holder of a coordination.k8s.io Lease writes.")
    public var leaderElect = false

    @Option(help: "The Lease's namespace (default: $POD_NAMESPACE, else the service account's, else default).")
    public var leaderElectionNamespace: String?

    @Option(help: "The Lease's name.")
    public var leaderElectionId = "inference-autoscaler-leader"

    @Option(help: "Seconds a standby waits after the leader's last renewal before taking the lease.")
    public var leaderElectLeaseDuration = 15.0

    @Option(help: "Seconds within which the leader must renew, or it stops writing and exits.")
    public var leaderElectRenewDeadline = 10.0

    @Option(help: "Seconds between tries to acquire or renew the lease.")
    public var leaderElectRetryPeriod = 2.0

    @Option(
        name: .customLong("allow-custom-queries-in"),
        help: "A namespace whose policies may use Custom queries (repeatable; * for all). Default: none.")
    public var customQueryNamespaces: [String] = []

    @Option(help: "Requests per second to the Kubernetes API, sustained (a client-side token bucket).")
    public var kubeApiQps = 20.0

    @Option(help: "Requests to the Kubernetes API allowed in a burst.")
    public var kubeApiBurst = 30

    @Option(help: "Seconds a graceful shutdown may take before the controller exits anyway.")
    public var shutdownTimeout = 20.0

    public init() {}

    /// The options with every flag at its default (`init()` leaves the property wrappers unset until parsed).
    public static var defaults: ControllerOptions {
        // An empty command line always parses: every flag has a default and the defaults validate.
        try! parse([])
    }

    public func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level: unknown level \(logLevel)")
        }
        guard ["text", "json"].contains(logFormat) else { throw ValidationError("--log-format: use text or json") }
        guard maxConcurrentReconciles >= 1 else { throw ValidationError("--max-concurrent-reconciles must be >= 1") }
        if let defaultPrometheus, URL(string: defaultPrometheus)?.scheme == nil {
            throw ValidationError("--default-prometheus: not a URL: \(defaultPrometheus)")
        }
        guard leaderElectRetryPeriod > 0, leaderElectRenewDeadline > leaderElectRetryPeriod,
            leaderElectLeaseDuration > leaderElectRenewDeadline
        else {
            throw ValidationError(
                "leader election needs lease duration > renew deadline > retry period > 0 (got "
                    + "\(leaderElectLeaseDuration), \(leaderElectRenewDeadline), \(leaderElectRetryPeriod))")
        }
        guard shutdownTimeout > 0 else { throw ValidationError("--shutdown-timeout must be positive") }
        guard kubeApiQps > 0, kubeApiBurst >= 1 else {
            throw ValidationError("--kube-api-qps must be positive and --kube-api-burst at least 1")
        }
    }

    /// The command line that parses back to these options (`run` first), for a tool that starts the controller.
    /// Only values that differ from the defaults are written.
    public var arguments: [String] {
        let defaults = Self.defaults
        var result = ["run"]
        func add<Value: Equatable & CustomStringConvertible>(_ flag: String, _ value: Value, _ fallback: Value) {
            if value != fallback { result += ["--\(flag)", value.description] }
        }
        func add(_ flag: String, _ value: String?) {
            if let value { result += ["--\(flag)", value] }
        }
        add("kubeconfig", kubeconfig)
        add("context", context)
        for namespace in namespaces { result += ["--namespace", namespace] }
        add("default-prometheus", defaultPrometheus)
        add("max-concurrent-reconciles", maxConcurrentReconciles, defaults.maxConcurrentReconciles)
        add("log-level", logLevel, defaults.logLevel)
        add("log-format", logFormat, defaults.logFormat)
        add("metrics-bind-address", metricsBindAddress, defaults.metricsBindAddress)
        add("health-probe-bind-address", healthProbeBindAddress, defaults.healthProbeBindAddress)
        if leaderElect { result.append("--leader-elect") }
        add("leader-election-namespace", leaderElectionNamespace)
        add("leader-election-id", leaderElectionId, defaults.leaderElectionId)
        add("leader-elect-lease-duration", leaderElectLeaseDuration, defaults.leaderElectLeaseDuration)
        add("leader-elect-renew-deadline", leaderElectRenewDeadline, defaults.leaderElectRenewDeadline)
        add("leader-elect-retry-period", leaderElectRetryPeriod, defaults.leaderElectRetryPeriod)
        for namespace in customQueryNamespaces { result += ["--allow-custom-queries-in", namespace] }
        add("kube-api-qps", kubeApiQps, defaults.kubeApiQps)
        add("kube-api-burst", kubeApiBurst, defaults.kubeApiBurst)
        add("shutdown-timeout", shutdownTimeout, defaults.shutdownTimeout)
        return result
    }
}
