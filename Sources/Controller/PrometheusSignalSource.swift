import AutoscalerCore
import CurlHTTP
import Foundation
import PrometheusClient
import Synchronization

/// Reads signals from each policy's Prometheus (or the controller's default), scoped to its namespace and pods.
public final class PrometheusSignalSource: SignalSource, Sendable {
    private let defaultAddress: URL?
    private let clients = Mutex<[String: PrometheusQueryClient]>([:])

    public init(defaultAddress: URL?) {
        self.defaultAddress = defaultAddress
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
        return await withTaskGroup(of: (Int, SignalSample).self) { group in
            for (index, signal) in policy.signals.enumerated() {
                group.addTask {
                    // With no pods, nothing waits at, runs on or is served by a pod: a preset's value is 0. A Custom
                    // query (a gateway's queue) is still read: it is how a workload comes back from zero.
                    if pods.isEmpty, signal.type != .custom { return (index, .value(0)) }
                    return (index, await reader.read(signal, engine: policy.engine, scope: scope, at: time).sample)
                }
            }
            var samples = [SignalSample](repeating: .missing("not read"), count: policy.signals.count)
            for await (index, sample) in group { samples[index] = sample }
            return samples
        }
    }

    private func client(address: URL, policy: ResolvedPolicy) -> PrometheusQueryClient {
        let headers = policy.prometheus.spec.headers ?? [:]
        let insecure = policy.prometheus.spec.tls?.insecureSkipVerify ?? false
        let key = "\(address)|\(policy.prometheus.timeout)|\(insecure)|\(headers.sorted { $0.key < $1.key })"
        return clients.withLock { cache in
            if let client = cache[key] { return client }
            let client = PrometheusQueryClient(
                configuration: .init(
                    address: address, timeout: policy.prometheus.timeout,
                    tls: TLSSettings(insecureSkipVerify: insecure), headers: headers))
            cache[key] = client
            return client
        }
    }
}
