import Foundation

/// Reads a policy's signals (Prometheus in production).
public protocol SignalSource: Sendable {
    func samples(for policy: ResolvedPolicy, pods: [String], at time: Date) async -> [SignalSample]
    /// Requests each pod is serving now (the engine's running-requests gauge); pods without a value are absent.
    func runningRequests(for policy: ResolvedPolicy, pods: [String], at time: Date) async -> [String: Double]
}

extension SignalSource {
    public func runningRequests(for policy: ResolvedPolicy, pods: [String], at time: Date) async -> [String: Double] {
        [:]
    }
}
