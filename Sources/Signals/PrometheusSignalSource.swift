import AutoscalerCore
import CurlHTTP
import Foundation
import Synchronization

/// Reads signals from each policy's Prometheus (or the controller's default), scoped to its namespace and pods.
public final class PrometheusSignalSource: SignalSource, Sendable {
    private let defaultAddress: URL?
    private let defaultCredentials: DefaultPrometheusCredentials
    private let secrets: SecretCache
    private let observer: (@Sendable (_ succeeded: Bool, _ seconds: Double) -> Void)?
    private let staleAfter: Double
    /// By identity (address, options, which credentials): the TLS material's fingerprint and the client made with it.
    private let clients = Mutex<[String: (tls: TLSSettings, client: PrometheusQueryClient)]>([:])
    private let batches = NamespaceBatches()
    private let discovery = MetricDiscovery()

    /// - Parameters:
    ///   - defaultCredentials: used only for `defaultAddress`, never sent to an address a policy names.
    ///   - secrets: reads the Secrets that policies' `spec.prometheus` names, in the policy's namespace; without
    ///     it such policies have every signal missing.
    ///   - secretMaxAge: how long a Secret read is used before it is read again (a rotation takes effect within it).
    ///   - staleAfter: a pod's series whose last sample is older than this many seconds counts as absent (two
    ///     scrape intervals: a pod that stopped reporting is not read as its last value for Prometheus' five-minute
    ///     lookback).
    ///   - observer: told of every query (for metrics).
    public init(
        defaultAddress: URL?, defaultCredentials: DefaultPrometheusCredentials = .init(),
        secrets: (any SecretReader)? = nil, secretMaxAge: Duration = .seconds(60), staleAfter: Double = 60,
        observer: (@Sendable (_ succeeded: Bool, _ seconds: Double) -> Void)? = nil
    ) {
        self.staleAfter = staleAfter
        self.defaultAddress = defaultAddress
        self.defaultCredentials = defaultCredentials
        self.secrets = SecretCache(reader: secrets, maxAge: secretMaxAge)
        self.observer = observer
    }

    public func samples(
        for policy: ResolvedPolicy, pods: [String], ready: Set<String>, gpus: [String: Int], at time: Date
    ) async -> [SignalSample] {
        let endpoint: Endpoint
        switch await self.endpoint(for: policy) {
        case .failure(let unavailable): return policy.signals.map { _ in .missing(unavailable.reason) }
        case .success(let value): endpoint = value
        }
        let reader = SignalReader(
            client: endpoint.client,
            batching: .init(batches: batches, key: endpoint.key, maxAge: policy.pollingInterval / 2),
            discovery: .init(cache: discovery, key: endpoint.key), staleAfter: staleAfter)
        let scope = PodScope(namespace: policy.namespace, pods: .names(pods))
        return await reader.readAll(policy, scope: scope, ready: ready, gpus: gpus, at: time).map(\.sample)
    }

    public func workload(
        for policy: ResolvedPolicy, pods: [String], ready: Set<String>, at time: Date
    ) async -> WorkloadSample {
        switch await endpoint(for: policy) {
        case .failure(let unavailable): return .missing(unavailable.reason)
        case .success(let endpoint):
            let reader = SignalReader(
                client: endpoint.client, discovery: .init(cache: discovery, key: endpoint.key), staleAfter: staleAfter)
            return await reader.workload(
                policy, scope: PodScope(namespace: policy.namespace, pods: .names(pods)), ready: ready, at: time)
        }
    }

    public func runningRequests(for policy: ResolvedPolicy, pods: [String], at time: Date) async -> [String: Double] {
        guard !pods.isEmpty, case .success(let endpoint) = await endpoint(for: policy),
            case .success(let names) = await discovery.names(
                engine: policy.engine, namespace: policy.namespace, roles: [.running], client: endpoint.client,
                key: endpoint.key, at: time),
            let query = EnginePresets.runningByPod(
                names: names, scope: PodScope(namespace: policy.namespace, pods: .names(pods))),
            case .success(let samples) = await endpoint.client.vector(query, at: time, of: "a vector by pod")
        else { return [:] }
        var running: [String: Double] = [:]
        for sample in samples where sample.value.isFinite {
            if let pod = sample.labels["pod"] { running[pod] = sample.value }
        }
        return running
    }

    /// A policy's Prometheus: its client, shared by every policy with the same key (and so their batches).
    private struct Endpoint {
        var key: String
        var client: PrometheusQueryClient
    }

    private struct Unavailable: Error {
        var reason: String
    }

    /// The one place that resolves a policy's Prometheus address and credentials.
    private func endpoint(for policy: ResolvedPolicy) async -> Result<Endpoint, Unavailable> {
        let spec = policy.prometheus.spec
        guard let address = policy.prometheus.address.flatMap(URL.init(string:)) ?? defaultAddress else {
            return .failure(
                Unavailable(reason: "no Prometheus address: set spec.prometheus.address or --default-prometheus"))
        }
        if address.user != nil || address.password != nil {
            return .failure(Unavailable(reason: "credentials in a Prometheus URL are refused: use basicAuth"))
        }
        // The controller's own credentials go only to the address they were given for.
        let defaults = address == defaultAddress ? defaultCredentials : DefaultPrometheusCredentials()
        let namespace = policy.namespace
        let secrets = self.secrets
        var identity = [address.absoluteString, "\(policy.prometheus.timeout)"]
        var tls = TLSSettings(
            caCertificateFile: defaults.caFile, clientCertificateFile: defaults.certFile,
            clientKeyFile: defaults.keyFile, insecureSkipVerify: spec.tls?.insecureSkipVerify ?? false)
        do {
            if let ref = spec.tls?.caSecretRef {
                tls.caCertificatePEM = try await secrets.value(of: ref, in: namespace)
                tls.caCertificateFile = nil
            }
            if let certRef = spec.tls?.certSecretRef, let keyRef = spec.tls?.keySecretRef {
                tls.clientCertificatePEM = try await secrets.value(of: certRef, in: namespace)
                tls.clientKeyPEM = try await secrets.value(of: keyRef, in: namespace)
                tls.clientCertificateFile = nil
                tls.clientKeyFile = nil
            }
        } catch {
            return .failure(Unavailable(reason: "\(error)"))
        }
        identity.append("tls:\(spec.tls.map { "\($0)" } ?? "-")")

        let authorization: PrometheusQueryClient.Authorization
        if let ref = spec.bearerTokenSecretRef {
            identity.append("bearer:\(namespace)/\(ref.name ?? "")/\(ref.key ?? "")")
            authorization = .bearer { refresh in try await secrets.text(of: ref, in: namespace, refresh: refresh) }
        } else if let user = spec.basicAuth?.usernameSecretRef, let password = spec.basicAuth?.passwordSecretRef {
            identity.append("basic:\(namespace)/\(user.name ?? "")/\(user.key ?? "")/\(password.name ?? "")")
            authorization = .basic { refresh in
                (
                    try await secrets.text(of: user, in: namespace, refresh: refresh),
                    try await secrets.text(of: password, in: namespace, refresh: refresh)
                )
            }
        } else if let file = defaults.bearerTokenFile {
            identity.append("bearer-file")
            authorization = .bearer { _ in try readCredentialFile(file) }
        } else if let username = defaults.username, let file = defaults.passwordFile {
            identity.append("basic-file")
            authorization = .basic { _ in (username, try readCredentialFile(file)) }
        } else {
            authorization = .none
        }
        let headers = defaults.headers.merging(spec.headers ?? [:]) { $1 }
        identity.append("\(headers.sorted { $0.key < $1.key })")

        let key = identity.joined(separator: "|")
        let observer = self.observer
        let client = clients.withLock { cache in
            if let cached = cache[key], cached.tls == tls { return cached.client }
            let client = PrometheusQueryClient(
                configuration: .init(
                    address: address, timeout: policy.prometheus.timeout, tls: tls, authorization: authorization,
                    headers: headers, observer: observer))
            cache[key] = (tls, client)
            return client
        }
        return .success(Endpoint(key: key, client: client))
    }
}
