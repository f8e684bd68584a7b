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

    public init(desiredReplicas: Int, currentReplicas: Int? = nil, readyReplicas: Int, pods: [ObservedPod] = []) {
        self.desiredReplicas = desiredReplicas
        self.currentReplicas = currentReplicas ?? desiredReplicas
        self.readyReplicas = readyReplicas
        self.pods = pods
    }

    private enum CodingKeys: String, CodingKey { case desiredReplicas, currentReplicas, readyReplicas, pods }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        desiredReplicas = try container.decode(Int.self, forKey: .desiredReplicas)
        currentReplicas = try container.decodeIfPresent(Int.self, forKey: .currentReplicas) ?? desiredReplicas
        readyReplicas = try container.decode(Int.self, forKey: .readyReplicas)
        pods = try container.decodeIfPresent([ObservedPod].self, forKey: .pods) ?? []
    }
}

public struct ObservedPod: Codable, Sendable, Equatable {
    public var name: String
    public var createdAt: Date
    public var ready: Bool
    /// When the pod's Ready condition last became True.
    public var readySince: Date?

    public init(name: String, createdAt: Date, ready: Bool, readySince: Date? = nil) {
        self.name = name
        self.createdAt = createdAt
        self.ready = ready
        self.readySince = readySince
    }

    private enum CodingKeys: String, CodingKey { case name, createdAt, ready, readySince }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        createdAt = try container.decodeTime(forKey: .createdAt)
        ready = try container.decodeIfPresent(Bool.self, forKey: .ready) ?? false
        readySince = try container.decodeTimeIfPresent(forKey: .readySince)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encodeTime(createdAt, forKey: .createdAt)
        try container.encode(ready, forKey: .ready)
        try container.encodeTimeIfPresent(readySince, forKey: .readySince)
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
