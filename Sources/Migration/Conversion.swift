import AutoscalerCore
import Foundation
import KubernetesModel

/// One ScaledObject or HPA turned into a policy, with what could not be carried over and why.
public struct Conversion: Sendable {
    /// `ScaledObject namespace/name`, for the output's header.
    public var source: String
    public var policy: InferenceAutoscalePolicy
    public var notes: [Note]

    public struct Note: Sendable, Equatable, CustomStringConvertible {
        public enum Kind: String, Sendable {
            /// Not in the policy at all.
            case dropped = "not carried over"
            /// In the policy, but it behaves differently from the original.
            case changed
            /// Works only once the operator allows it.
            case needs = "needs the operator's permission"
        }

        public var kind: Kind
        /// The field of the original object.
        public var path: String
        public var reason: String

        public var description: String { "\(path): \(reason)" }
    }

    public func notes(_ kind: Note.Kind) -> [Note] { notes.filter { $0.kind == kind } }
}

/// An object of the input that is not converted.
public struct SkippedObject: Sendable, Equatable {
    public var source: String
    public var reason: String
}

/// `inference-autoscaler convert`: KEDA ScaledObjects and autoscaling/v2 HPAs to policies.
public enum Converter {
    public struct Result: Sendable {
        public var conversions: [Conversion]
        public var skipped: [SkippedObject]
    }

    /// Converts every ScaledObject and HPA among `objects`; TriggerAuthentications among them supply the Secrets
    /// their triggers name. Other kinds are skipped silently when they are KEDA's own, with a reason otherwise.
    public static func convert(_ documents: [JSONValue]) -> Result {
        // `kubectl get -o yaml` writes a List.
        let objects = documents.flatMap { document in
            document["kind"]?.stringValue == "List" ? document["items"]?.arrayValue ?? [] : [document]
        }
        var authentications: [String: JSONValue] = [:]
        for object in objects where object["kind"]?.stringValue == "TriggerAuthentication" {
            authentications[key(object)] = object
        }
        var result = Result(conversions: [], skipped: [])
        for object in objects {
            let kind = object["kind"]?.stringValue ?? ""
            let apiVersion = object["apiVersion"]?.stringValue ?? ""
            switch (apiVersion.split(separator: "/").first.map(String.init) ?? "", kind) {
            case ("keda.sh", "ScaledObject"):
                result.conversions.append(ScaledObjectConversion.convert(object, authentications: authentications))
            case ("autoscaling", "HorizontalPodAutoscaler"):
                if apiVersion != "autoscaling/v2" {
                    result.skipped.append(
                        SkippedObject(
                            source: "HorizontalPodAutoscaler \(key(object))",
                            reason:
                                "\(apiVersion) is not read; get it as autoscaling/v2 (kubectl get hpa.v2.autoscaling)"))
                } else if let owner = ownerScaledObject(object) {
                    result.skipped.append(
                        SkippedObject(
                            source: "HorizontalPodAutoscaler \(key(object))",
                            reason: "made by ScaledObject \(owner); convert the ScaledObject instead"))
                } else {
                    result.conversions.append(HPAConversion.convert(object))
                }
            case ("keda.sh", "TriggerAuthentication"), ("keda.sh", "ClusterTriggerAuthentication"):
                continue
            default:
                result.skipped.append(
                    SkippedObject(
                        source: "\(kind.isEmpty ? "a document" : kind) \(key(object))",
                        reason: "neither a KEDA ScaledObject nor an autoscaling/v2 HorizontalPodAutoscaler"))
            }
        }
        return result
    }

    /// An object's namespace (`default` when the file names none, as kubectl applies it) and name.
    static func identity(_ object: JSONValue) -> (namespace: String, name: String) {
        (
            object.value(at: "metadata.namespace")?.stringValue ?? "default",
            object.value(at: "metadata.name")?.stringValue ?? ""
        )
    }

    static func key(_ object: JSONValue) -> String {
        let (namespace, name) = identity(object)
        return "\(namespace)/\(name)"
    }

    private static func ownerScaledObject(_ object: JSONValue) -> String? {
        for owner in object.value(at: "metadata.ownerReferences")?.arrayValue ?? []
        where owner["kind"]?.stringValue == "ScaledObject" {
            return owner["name"]?.stringValue ?? "?"
        }
        return nil
    }
}

/// Notes gathered while converting one object.
struct NoteList {
    var notes: [Conversion.Note] = []

    mutating func dropped(_ path: String, _ reason: String) {
        notes.append(.init(kind: .dropped, path: path, reason: reason))
    }
    mutating func changed(_ path: String, _ reason: String) {
        notes.append(.init(kind: .changed, path: path, reason: reason))
    }
    mutating func needs(_ path: String, _ reason: String) {
        notes.append(.init(kind: .needs, path: path, reason: reason))
    }
}

extension JSONValue {
    /// A number written as a number or a string (KEDA's metadata is `map[string]string`; YAML users write both).
    var numberValue: Double? {
        switch self {
        case .number(let value): value
        case .string(let text): Double(text.trimmingCharacters(in: .whitespaces))
        default: nil
        }
    }

    /// A scalar as text.
    var text: String? {
        switch self {
        case .string(let text): text
        case .number(let value): plainText(value)
        case .bool(let value): String(value)
        default: nil
        }
    }
}

/// HPA v2 `behavior` (as KEDA copies it from `advanced.horizontalPodAutoscalerConfig.behavior`) to the policy's.
enum BehaviorConversion {
    static func convert(_ behavior: JSONValue?, at path: String, notes: inout NoteList) -> BehaviorSpec? {
        guard let behavior, behavior.objectMembers != nil else { return nil }
        var result = BehaviorSpec()
        var tolerances: [Double] = []
        for direction in ["scaleUp", "scaleDown"] {
            guard let rules = behavior[direction] else { continue }
            var spec = ScalingRulesSpec()
            if let seconds = rules["stabilizationWindowSeconds"]?.numberValue {
                spec.stabilizationWindow = PolicyDuration.format(seconds)
            }
            spec.selectPolicy = rules["selectPolicy"]?.stringValue
            if let policies = rules["policies"]?.arrayValue {
                spec.policies = policies.map { policy in
                    ScalingPolicySpec(
                        type: policy["type"]?.stringValue, value: policy["value"]?.intValue,
                        period: policy["periodSeconds"]?.numberValue.map(PolicyDuration.format))
                }
            }
            if let tolerance = Quantity.value(rules["tolerance"]) { tolerances.append(tolerance) }
            if direction == "scaleUp" { result.scaleUp = spec } else { result.scaleDown = spec }
        }
        if let first = tolerances.first {
            // The policy has one tolerance for both directions: the smaller one reacts at least as often as before.
            result.tolerance = tolerances.min()
            if tolerances.count == 2, tolerances[0] != tolerances[1] {
                notes.changed(
                    "\(path).scaleUp.tolerance",
                    "one tolerance for both directions here: \(plainText(tolerances.min() ?? first)), the smaller")
            }
        }
        return result
    }
}

/// A number as a reader writes it: `25`, `0.8`.
func plainText(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
}
