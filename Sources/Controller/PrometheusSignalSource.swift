import AutoscalerCore
import CurlHTTP
import Foundation
import PrometheusClient
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
        let spec = policy.prometheus.spec
        if spec.bearerTokenSecretRef != nil || spec.basicAuth != nil || spec.tls?.caSecretRef != nil {
            // Secrets are not read yet: better no value than an unauthenticated one.
            return policy.signals.map { _ in .missing("spec.prometheus secret references are not supported yet") }
        }
        guard let address = policy.prometheus.address.flatMap(URL.init(string:)) ?? defaultAddress else {
            return policy.signals.map { _ in .missing("no Prometheus address: set spec.prometheus.address or --default-prometheus") }
        }
        let client = self.client(address: address, policy: policy)
        let reader = SignalReader(client: client)
        let scope = PodScope(namespace: policy.namespace, pods: .names(pods))
        let clientKey = clientKey(address: address, policy: policy)
        return await withTaskGroup(of: (Int, SignalSample).self) { group in
            for (index, signal) in policy.signals.enumerated() {
                group.addTask {
                    // With no pods, nothing waits at, runs on or is served by a pod: a preset's value is 0. A Custom
                    // query (a gateway's queue) is still read: it is how a workload comes back from zero.
                    if pods.isEmpty, signal.type != .custom { return (index, .value(0)) }
                    // Presets that are per-pod numbers: one query per namespace and round, split per policy.
                    if let query = EnginePresets.namespaceQuery(for: signal, engine: policy.engine, namespace: policy.namespace) {
                        let result = await self.batches.values(
                            key: "\(clientKey)|\(query)", query: query, client: client, at: time,
                            maxAge: policy.pollingInterval / 2)
                        switch result {
                        case .success(let values) where signal.type == .timeToFirstToken:
                            let q = signal.quantile ?? PolicyDefaults.quantile
                            return (index, NamespaceBatches.quantile(q, of: values, pods: pods))
                        case .success(let values):
                            return (index, NamespaceBatches.aggregate(values, pods: pods, targetType: signal.targetType))
                        case .failure(let error):
                            return (index, .missing(error.message))
                        }
                    }
                    return (index, await reader.read(signal, engine: policy.engine, scope: scope, at: time).sample)
                }
            }
            var samples = [SignalSample](repeating: .missing("not read"), count: policy.signals.count)
            for await (index, sample) in group { samples[index] = sample }
            return samples
        }
    }

    public func runningRequests(for policy: ResolvedPolicy, pods: [String], at time: Date) async -> [String: Double] {
        let spec = policy.prometheus.spec
        guard !pods.isEmpty, spec.bearerTokenSecretRef == nil, spec.basicAuth == nil, spec.tls?.caSecretRef == nil,
            let address = policy.prometheus.address.flatMap(URL.init(string:)) ?? defaultAddress,
            let query = EnginePresets.runningByPod(
                engine: policy.engine, scope: PodScope(namespace: policy.namespace, pods: .names(pods)))
        else { return [:] }
        guard case .success(let response) = await client(address: address, policy: policy).query(query, at: time),
            case .vector(let samples) = response.result
        else { return [:] }
        var running: [String: Double] = [:]
        for sample in samples where sample.value.isFinite {
            if let pod = sample.labels["pod"] { running[pod] = sample.value }
        }
        return running
    }

    /// Policies with the same key share a client (and their namespace batches).
    private func clientKey(address: URL, policy: ResolvedPolicy) -> String {
        let headers = policy.prometheus.spec.headers ?? [:]
        let insecure = policy.prometheus.spec.tls?.insecureSkipVerify ?? false
        return "\(address)|\(policy.prometheus.timeout)|\(insecure)|\(headers.sorted { $0.key < $1.key })"
    }

    private func client(address: URL, policy: ResolvedPolicy) -> PrometheusQueryClient {
        let headers = policy.prometheus.spec.headers ?? [:]
        let insecure = policy.prometheus.spec.tls?.insecureSkipVerify ?? false
        let key = clientKey(address: address, policy: policy)
        return clients.withLock { cache in
            if let client = cache[key] { return client }
            let client = PrometheusQueryClient(
                configuration: .init(
                    address: address, timeout: policy.prometheus.timeout,
                    tls: TLSSettings(insecureSkipVerify: insecure), headers: headers, observer: observer))
            cache[key] = client
            return client
        }
    }
}
