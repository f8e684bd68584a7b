import AutoscalerCore
import CurlHTTP
import Foundation
import Synchronization

/// Reads signals from each policy's Prometheus (or the controller's default), scoped to its namespace and pods.
public final class PrometheusSignalSource: SignalSource, Sendable {
    private let defaultAddress: URL?
    private let observer: (@Sendable (_ succeeded: Bool, _ seconds: Double) -> Void)?
    private let clients = Mutex<[String: PrometheusQueryClient]>([:])
    private let batches = NamespaceBatches()

    /// - Parameter observer: told of every query (for metrics).
    public init(
        defaultAddress: URL?, observer: (@Sendable (_ succeeded: Bool, _ seconds: Double) -> Void)? = nil
    ) {
        self.defaultAddress = defaultAddress
        self.observer = observer
    }

    public func samples(for policy: ResolvedPolicy, pods: [String], at time: Date) async -> [SignalSample] {
        let endpoint: Endpoint
        switch self.endpoint(for: policy) {
        case .failure(let unavailable): return policy.signals.map { _ in .missing(unavailable.reason) }
        case .success(let value): endpoint = value
        }
        let reader = SignalReader(
            client: endpoint.client,
            batching: .init(batches: batches, key: endpoint.key, maxAge: policy.pollingInterval / 2))
        let scope = PodScope(namespace: policy.namespace, pods: .names(pods))
        return await reader.readAll(policy, scope: scope, at: time).map(\.sample)
    }

    public func runningRequests(for policy: ResolvedPolicy, pods: [String], at time: Date) async -> [String: Double] {
        guard !pods.isEmpty, case .success(let endpoint) = endpoint(for: policy),
            let query = EnginePresets.runningByPod(
                engine: policy.engine, scope: PodScope(namespace: policy.namespace, pods: .names(pods))),
            case .success(let response) = await endpoint.client.query(query, at: time),
            case .vector(let samples) = response.result
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
    private func endpoint(for policy: ResolvedPolicy) -> Result<Endpoint, Unavailable> {
        let spec = policy.prometheus.spec
        if spec.bearerTokenSecretRef != nil || spec.basicAuth != nil || spec.tls?.caSecretRef != nil {
            // Secrets are not read yet: better no value than an unauthenticated one.
            return .failure(Unavailable(reason: "spec.prometheus secret references are not supported yet"))
        }
        guard let address = policy.prometheus.address.flatMap(URL.init(string:)) ?? defaultAddress else {
            return .failure(
                Unavailable(reason: "no Prometheus address: set spec.prometheus.address or --default-prometheus"))
        }
        let headers = spec.headers ?? [:]
        let insecure = spec.tls?.insecureSkipVerify ?? false
        let key = "\(address)|\(policy.prometheus.timeout)|\(insecure)|\(headers.sorted { $0.key < $1.key })"
        let client = clients.withLock { cache in
            if let client = cache[key] { return client }
            let client = PrometheusQueryClient(
                configuration: .init(
                    address: address, timeout: policy.prometheus.timeout,
                    tls: TLSSettings(insecureSkipVerify: insecure), headers: headers, observer: observer))
            cache[key] = client
            return client
        }
        return .success(Endpoint(key: key, client: client))
    }
}
