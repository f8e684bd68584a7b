import Foundation
import KubernetesModel

/// What the controller saw of the target: its `/scale` and its pods.
public struct ObservedScale: Codable, Sendable, Equatable {
    /// `spec.replicas` of the target's `/scale`: the count the last decision (or a person) asked for.
    public var desiredReplicas: Int
    /// `status.replicas` of the target's `/scale`: pods that exist.
    public var currentReplicas: Int
    public var readyReplicas: Int
    /// The target's pods that are not terminating. Not-ready ones are capacity in flight; ready ones teach the
    /// decision how long a cold start takes.
    public var pods: [ObservedPod]
    /// The namespace's ResourceQuotas leave room for no more than this.
    public var quota: QuotaCap?

    public init(
        desiredReplicas: Int, currentReplicas: Int? = nil, readyReplicas: Int, pods: [ObservedPod] = [],
        quota: QuotaCap? = nil
    ) {
        self.desiredReplicas = desiredReplicas
        self.currentReplicas = currentReplicas ?? desiredReplicas
        self.readyReplicas = readyReplicas
        self.pods = pods
        self.quota = quota
    }

    private enum CodingKeys: String, CodingKey { case desiredReplicas, currentReplicas, readyReplicas, pods, quota }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        desiredReplicas = try container.decode(Int.self, forKey: .desiredReplicas)
        currentReplicas = try container.decodeIfPresent(Int.self, forKey: .currentReplicas) ?? desiredReplicas
        readyReplicas = try container.decode(Int.self, forKey: .readyReplicas)
        pods = try container.decodeIfPresent([ObservedPod].self, forKey: .pods) ?? []
        quota = try container.decodeIfPresent(QuotaCap.self, forKey: .quota)
    }
}

public struct ObservedPod: Codable, Sendable, Equatable {
    public var name: String
    public var createdAt: Date
    public var ready: Bool
    /// When the pod's Ready condition last became True.
    public var readySince: Date?
    /// The scheduler's message while the pod is Pending with `PodScheduled=False` (`Unschedulable`): waiting for a
    /// node (Karpenter, the cluster autoscaler) or for GPUs that do not exist.
    public var unschedulable: String?

    public init(name: String, createdAt: Date, ready: Bool, readySince: Date? = nil, unschedulable: String? = nil) {
        self.name = name
        self.createdAt = createdAt
        self.ready = ready
        self.readySince = readySince
        self.unschedulable = unschedulable
    }

    private enum CodingKeys: String, CodingKey { case name, createdAt, ready, readySince, unschedulable }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        createdAt = try container.decodeTime(forKey: .createdAt)
        ready = try container.decodeIfPresent(Bool.self, forKey: .ready) ?? false
        readySince = try container.decodeTimeIfPresent(forKey: .readySince)
        unschedulable = try container.decodeIfPresent(String.self, forKey: .unschedulable)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encodeTime(createdAt, forKey: .createdAt)
        try container.encode(ready, forKey: .ready)
        try container.encodeTimeIfPresent(readySince, forKey: .readySince)
        try container.encodeIfPresent(unschedulable, forKey: .unschedulable)
    }
}

/// One signal's reading: a number, or missing with the reason. "No data" is never a number.
public enum SignalSample: Sendable, Equatable {
    case value(Double)
    case missing(String)
}

extension SignalSample: Codable {
    private enum CodingKeys: String, CodingKey { case value, missing }

    /// `{"value": 21}` or `{"missing": "connection refused"}`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let value = try container.decodeIfPresent(Double.self, forKey: .value) {
            self = .value(value)
        } else if let reason = try container.decodeIfPresent(String.self, forKey: .missing) {
            self = .missing(reason)
        } else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "a sample needs \"value\" or \"missing\""))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .value(let value): try container.encode(value, forKey: .value)
        case .missing(let reason): try container.encode(reason, forKey: .missing)
        }
    }
}
