import AutoscalerCore
import KubernetesModel

/// What the caches keep of each object: only the fields the controller reads, so that memory follows the policies'
/// workloads and not the size of the cluster's objects (managed fields, pod specs, annotations, templates). The
/// metadata is kept once, typed; `json` holds the rest.
enum CachedFields {
    /// Readiness, start time, deletion, labels (selectors) of a pod, and how many GPUs it holds.
    @Sendable static func pod(_ object: DynamicObject) -> DynamicObject {
        var metadata = slim(object.metadata)
        if let deletion = object.metadata.additionalFields["deletionTimestamp"] {
            metadata.additionalFields["deletionTimestamp"] = deletion
        }
        var status: [String: JSONValue] = [:]
        if let phase = object["status", "phase"] { status["phase"] = phase }
        var conditions: [JSONValue] = []
        for condition in object["status", "conditions"]?.arrayValue ?? [] {
            if condition["type"] == .string("Ready") {
                var kept: [String: JSONValue] = [:]
                for key in ["type", "status", "lastTransitionTime"] { kept[key] = condition[key] }
                conditions.append(.object(kept))
            } else if condition["type"] == .string("PodScheduled"), condition["status"] == .string("False") {
                // Waiting for a node: the scheduler's reason says why (Insufficient nvidia.com/gpu, …).
                var kept: [String: JSONValue] = [:]
                for key in ["type", "status", "reason"] { kept[key] = condition[key] }
                kept["message"] = condition["message"]?.stringValue.map { .string(String($0.prefix(200))) }
                conditions.append(.object(kept))
            }
        }
        if !conditions.isEmpty { status["conditions"] = .array(conditions) }
        var json: [String: JSONValue] = ["status": .object(status)]
        if let gpus = gpus(object), gpus > 0 { json["gpus"] = .number(Double(gpus)) }
        return DynamicObject(json: .object(json), metadata: metadata)
    }

    /// The pod's `nvidia.com/gpu`: an extended resource's request equals its limit, and either may be written alone.
    static func gpus(_ pod: DynamicObject) -> Int? {
        guard case .array(let containers)? = pod["spec", "containers"] else { return nil }
        var total = 0
        for container in containers {
            let resources = container["resources"]
            let quantity = resources?["limits"]?["nvidia.com/gpu"] ?? resources?["requests"]?["nvidia.com/gpu"]
            // A quantity is a string ("1"); a whole number is accepted too. Anything else (fractions, suffixes) is no
            // GPU count.
            if let count = quantity?.intValue ?? quantity?.stringValue.flatMap({ Int($0) }), count > 0, count < 1024 {
                total += count
            }
        }
        return total
    }

    /// Replica counts and the selector of a Deployment or StatefulSet (what its `/scale` would answer), the GPUs
    /// its pod template asks for, and its `ReplicaFailure` condition (pods it cannot create, e.g. over a quota).
    @Sendable static func workload(_ object: DynamicObject) -> DynamicObject {
        var spec: [String: JSONValue] = [:]
        for key in ["replicas", "selector"] { spec[key] = object["spec", key] }
        var status: [String: JSONValue] = [:]
        for key in ["replicas", "readyReplicas"] { status[key] = object["status", key] }
        if let failure = object["status", "conditions"]?.arrayValue?.first(where: {
            $0["type"] == .string("ReplicaFailure") && $0["status"] == .string("True")
        }) {
            status["replicaFailure"] = failure["message"].map { .string(String(($0.stringValue ?? "").prefix(400))) }
        }
        var json: [String: JSONValue] = ["spec": .object(spec), "status": .object(status)]
        if let template = object["spec", "template"],
            let gpus = gpus(DynamicObject(json: template, metadata: ObjectMeta())), gpus > 0
        {
            json["gpus"] = .number(Double(gpus))
        }
        return DynamicObject(json: .object(json), metadata: slim(object.metadata))
    }

    /// A ResourceQuota's enforced `hard` and its `used` (quantities as numbers), and whether it is scoped.
    @Sendable static func quota(_ object: DynamicObject) -> DynamicObject {
        func numbers(_ list: JSONValue?) -> JSONValue {
            var result: [String: JSONValue] = [:]
            for (key, value) in list?.objectMembers ?? [:] {
                if let number = Quantity.value(value) { result[key] = .number(number) }
            }
            return .object(result)
        }
        let scoped =
            !(object["spec", "scopes"]?.arrayValue ?? []).isEmpty
            || object["spec", "scopeSelector"]?.objectMembers != nil
        let json: JSONValue = .object([
            "hard": numbers(object["status", "hard"] ?? object["spec", "hard"]),
            "used": numbers(object["status", "used"]),
            "scoped": .bool(scoped),
        ])
        return DynamicObject(json: json, metadata: slim(object.metadata))
    }

    /// The cached form back as the decision reads it.
    static func quotaUsage(_ cached: DynamicObject) -> QuotaUsage {
        func numbers(_ key: String) -> [String: Double] {
            (cached[key]?.objectMembers ?? [:]).compactMapValues { Quantity.value($0) }
        }
        return QuotaUsage(
            name: cached.metadata.name ?? "", hard: numbers("hard"), used: numbers("used"),
            scoped: cached["scoped"] == .bool(true))
    }

    /// Which workload an HPA or a ScaledObject scales.
    @Sendable static func scaler(_ object: DynamicObject) -> DynamicObject {
        var spec: [String: JSONValue] = [:]
        spec["scaleTargetRef"] = object["spec", "scaleTargetRef"]
        var json: [String: JSONValue] = ["spec": .object(spec)]
        json["kind"] = object["kind"]
        return DynamicObject(json: .object(json), metadata: slim(object.metadata))
    }

    /// A policy without its managed fields (the rest is read).
    @Sendable static func policy(_ policy: InferenceAutoscalePolicy) -> InferenceAutoscalePolicy {
        var slimmed = policy
        slimmed.metadata.additionalFields["managedFields"] = nil
        return slimmed
    }

    private static func slim(_ metadata: ObjectMeta) -> ObjectMeta {
        var slim = ObjectMeta()
        slim.name = metadata.name
        slim.namespace = metadata.namespace
        slim.uid = metadata.uid
        slim.resourceVersion = metadata.resourceVersion
        slim.generation = metadata.generation
        slim.creationTimestamp = metadata.creationTimestamp
        slim.labels = metadata.labels
        return slim
    }
}
