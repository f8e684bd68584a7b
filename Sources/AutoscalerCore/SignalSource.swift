import Foundation

/// Reads a policy's signals (Prometheus in production).
public protocol SignalSource: Sendable {
    /// - Parameters:
    ///   - pods: the target's pods.
    ///   - ready: those of them that are ready (and not terminating): each should report every per-pod signal, and
    ///     one that does not makes the value uncertain, never an average of the others.
    ///   - gpus: each pod's `nvidia.com/gpu` (pods without GPUs absent): how many GPUs should report for it.
    func samples(
        for policy: ResolvedPolicy, pods: [String], ready: Set<String>, gpus: [String: Int], at time: Date
    ) async -> [SignalSample]
    /// What the objective planner reads (policies with `spec.objective`); `ready` as for `samples`.
    func workload(for policy: ResolvedPolicy, pods: [String], ready: Set<String>, at time: Date) async -> WorkloadSample
    /// Requests each pod is serving now (the engine's running-requests gauge); pods without a value are absent.
    func runningRequests(for policy: ResolvedPolicy, pods: [String], at time: Date) async -> [String: Double]
}

extension SignalSource {
    public func samples(
        for policy: ResolvedPolicy, pods: [String], ready: Set<String>, at time: Date
    ) async -> [SignalSample] {
        await samples(for: policy, pods: pods, ready: ready, gpus: [:], at: time)
    }

    public func workload(
        for policy: ResolvedPolicy, pods: [String], ready: Set<String>, at time: Date
    ) async -> WorkloadSample {
        .missing("this signal source reads no workload counters")
    }

    public func runningRequests(for policy: ResolvedPolicy, pods: [String], at time: Date) async -> [String: Double] {
        [:]
    }
}

/// Reads one Secret's data (its values base64-decoded), for the Prometheus credentials a policy names.
public protocol SecretReader: Sendable {
    /// - Throws: an error whose description names the Secret and why it cannot be read, never a value.
    func data(namespace: String, name: String) async throws -> [String: Data]
}
