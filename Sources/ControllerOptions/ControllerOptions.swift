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

    @Option(help: "A bearer token file for --default-prometheus (re-read when it changes, e.g. a mounted Secret).")
    public var prometheusBearerTokenFile: String?

    @Option(help: "A basic-auth username for --default-prometheus (with --prometheus-password-file).")
    public var prometheusUsername: String?

    @Option(help: "A file holding the basic-auth password for --default-prometheus.")
    public var prometheusPasswordFile: String?

    @Option(help: "A CA bundle file to verify --default-prometheus.")
    public var prometheusCaFile: String?

    @Option(help: "A client certificate file for --default-prometheus (with --prometheus-key-file).")
    public var prometheusCertFile: String?

    @Option(help: "The client certificate's key file.")
    public var prometheusKeyFile: String?

    @Option(name: .customLong("prometheus-header"), help: "NAME=VALUE sent to --default-prometheus (repeatable).")
    public var prometheusHeaders: [String] = []

    @Option(
        name: .customLong("allow-prometheus"),
        help: "A Prometheus URL policies may name in spec.prometheus.address (repeatable; * for any). Default: none.")
    public var allowedPrometheusAddresses: [String] = []

    @Option(
        name: .customLong("allow-prometheus-headers-in"),
        help: "A namespace whose policies may set spec.prometheus.headers (repeatable; * for all). Default: none.")
    public var prometheusHeaderNamespaces: [String] = []

    @Option(
        name: .customLong("allow-insecure-prometheus-in"),
        help: "A namespace whose policies may set spec.prometheus.tls.insecureSkipVerify (repeatable; * for all).")
    public var insecurePrometheusNamespaces: [String] = []

    @Flag(
        inversion: .prefixedNo,
        help:
            "Before a scale-down, mark the idlest pods with controller.kubernetes.io/pod-deletion-cost (needs pods patch)."
    )
    public var podDeletionCost = true

    @Option(
        help: "Seconds after its last sample that a pod's series counts as absent (two scrape intervals).")
    public var staleSeriesAfter = 60.0

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

    /// `--prometheus-header` as a dictionary.
    public var prometheusHeaderValues: [String: String] {
        var headers: [String: String] = [:]
        for header in prometheusHeaders {
            guard let equals = header.firstIndex(of: "=") else { continue }
            headers[String(header[..<equals])] = String(header[header.index(after: equals)...])
        }
        return headers
    }

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
        for address in allowedPrometheusAddresses where address != "*" && URL(string: address)?.host == nil {
            throw ValidationError("--allow-prometheus: not a URL: \(address)")
        }
        for header in prometheusHeaders where !header.contains("=") {
            throw ValidationError("--prometheus-header \(header): expected NAME=VALUE")
        }
        if (prometheusCertFile == nil) != (prometheusKeyFile == nil) {
            throw ValidationError("--prometheus-cert-file and --prometheus-key-file go together")
        }
        if (prometheusUsername == nil) != (prometheusPasswordFile == nil) {
            throw ValidationError("--prometheus-username and --prometheus-password-file go together")
        }
        if prometheusBearerTokenFile != nil, prometheusUsername != nil {
            throw ValidationError("use --prometheus-bearer-token-file or --prometheus-username, not both")
        }
        guard staleSeriesAfter > 0 else { throw ValidationError("--stale-series-after must be positive") }
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
        add("prometheus-bearer-token-file", prometheusBearerTokenFile)
        add("prometheus-username", prometheusUsername)
        add("prometheus-password-file", prometheusPasswordFile)
        add("prometheus-ca-file", prometheusCaFile)
        add("prometheus-cert-file", prometheusCertFile)
        add("prometheus-key-file", prometheusKeyFile)
        for header in prometheusHeaders { result += ["--prometheus-header", header] }
        for address in allowedPrometheusAddresses { result += ["--allow-prometheus", address] }
        for namespace in prometheusHeaderNamespaces { result += ["--allow-prometheus-headers-in", namespace] }
        for namespace in insecurePrometheusNamespaces { result += ["--allow-insecure-prometheus-in", namespace] }
        if !podDeletionCost { result.append("--no-pod-deletion-cost") }
        add("stale-series-after", staleSeriesAfter, defaults.staleSeriesAfter)
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
