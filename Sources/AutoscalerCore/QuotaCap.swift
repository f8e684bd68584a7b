import Foundation

/// A namespace's ResourceQuota as far as it bounds a workload's pod count.
public struct QuotaUsage: Sendable, Equatable {
    public var name: String
    /// `status.hard` (what the quota controller enforces), or `spec.hard` before it has filled that in.
    public var hard: [String: Double]
    public var used: [String: Double]
    /// With `scopes` or a `scopeSelector` the quota may not apply to the workload's pods: it counts only once the
    /// workload controller reports it.
    public var scoped: Bool

    public init(name: String, hard: [String: Double], used: [String: Double], scoped: Bool = false) {
        self.name = name
        self.hard = hard
        self.used = used
        self.scoped = scoped
    }
}

/// The most replicas a namespace's quotas leave room for.
public struct QuotaCap: Codable, Sendable, Equatable {
    public var quota: String
    public var replicas: Int
    /// The workload controller reports that this quota stopped it creating pods: the count comes down to what it
    /// allows (never below the pods that exist), so that the workload stops asking every poll for pods it cannot
    /// have. Otherwise the cap only stops growth: the quota's figures and the pod cache are read at slightly
    /// different moments, and a cap that lowered the count on such a reading could delete a pod just created.
    public var exceeded: Bool
    /// For the condition message: what the quota allows and uses.
    public var detail: String

    public init(quota: String, replicas: Int, exceeded: Bool, detail: String) {
        self.quota = quota
        self.replicas = replicas
        self.exceeded = exceeded
        self.detail = detail
    }

    /// The highest count a decision may reach from `current`.
    public func bound(current: Int) -> Int { exceeded ? replicas : max(current, replicas) }
}

public enum QuotaCaps {
    /// The tightest cap of the namespace's quotas on resources a replica takes a known amount of:
    /// `requests.nvidia.com/gpu` (`gpusPerPod` per replica), `pods` and `count/pods` (one).
    ///
    /// - Parameters:
    ///   - ownPods: the workload's pods the quota already counts (not terminating).
    ///   - existing: the pods the workload controller says exist (`/scale` status).
    ///   - failure: the workload controller's `ReplicaFailure` message, if any (`pods "x" is forbidden: exceeded
    ///     quota: gpu, requested: …`).
    public static func cap(
        quotas: [QuotaUsage], gpusPerPod: Int, ownPods: Int, existing: Int, failure: String?
    ) -> QuotaCap? {
        let named = failure.flatMap(exceededQuota)
        // The resources the refusal names: only they stopped the pod (a loose `pods` beside a tight CPU limit in
        // the same quota says nothing).
        let refused = failure.map(refusedResources) ?? []
        var held: QuotaCap?
        var failed: QuotaCap?
        for quota in quotas where !quota.scoped || quota.name == named {
            for (resource, hard) in quota.hard.sorted(by: { $0.key < $1.key }) {
                guard let perPod = demand(of: resource, gpusPerPod: gpusPerPod) else { continue }
                let exceeded = quota.name == named
                if exceeded, !refused.isEmpty, !refused.contains(resource) { continue }
                let used = quota.used[resource] ?? 0
                // Saturating: a quota of 1e19 pods is no limit, not a crash.
                let room = Int(min(max(0, ((hard - used) / perPod + 1e-9).rounded(.down)), 1e9))
                let replicas = exceeded ? max(existing, ownPods + room) : ownPods + room
                let detail =
                    "ResourceQuota \(quota.name): \(resource) \(format(used)) of \(format(hard)) used, "
                    + "\(format(perPod)) per replica, room for \(replicas) replicas"
                let cap = QuotaCap(quota: quota.name, replicas: replicas, exceeded: exceeded, detail: detail)
                if exceeded {
                    if failed.map({ replicas < $0.replicas }) ?? true { failed = cap }
                } else if held.map({ replicas < $0.replicas }) ?? true {
                    held = cap
                }
            }
        }
        guard let named else { return held }
        // A quota on a resource whose per-replica amount is not known here (CPU, memory), or one not readable: it
        // let the pods that exist be created, and no more.
        var cap =
            failed
            ?? QuotaCap(
                quota: named, replicas: existing, exceeded: true,
                detail: "ResourceQuota \(named) stopped the workload creating pods: \(existing) exist")
        if let held, held.replicas < cap.replicas {
            cap = QuotaCap(
                quota: held.quota, replicas: max(existing, held.replicas), exceeded: true, detail: held.detail)
        }
        return cap
    }

    /// The quota named in an admission refusal: `… exceeded quota: NAME, requested: …`.
    public static func exceededQuota(in message: String) -> String? {
        guard let start = message.range(of: "exceeded quota: ") else { return nil }
        let name = message[start.upperBound...].prefix { $0 != "," && $0 != " " }
        return name.isEmpty ? nil : String(name)
    }

    /// The resource names of `requested: requests.cpu=8,requests.memory=16Gi, used: …`.
    static func refusedResources(in message: String) -> Set<String> {
        guard let start = message.range(of: "requested: ") else { return [] }
        let rest = message[start.upperBound...]
        let list = rest.range(of: ", used: ").map { rest[..<$0.lowerBound] } ?? rest
        return Set(list.split(separator: ",").compactMap { $0.split(separator: "=").first.map(String.init) })
    }

    private static func demand(of resource: String, gpusPerPod: Int) -> Double? {
        switch resource {
        case "requests.nvidia.com/gpu": gpusPerPod > 0 ? Double(gpusPerPod) : nil
        case "pods", "count/pods": 1
        default: nil
        }
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(format: "%.3g", value)
    }
}
