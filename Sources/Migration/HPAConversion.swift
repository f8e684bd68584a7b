import AutoscalerCore
import Foundation
import KubernetesModel

/// An autoscaling/v2 HorizontalPodAutoscaler as a policy. Each metric becomes the PromQL the HPA's formula implies
/// (a Pods metric: the pods' mean; Object and External: the series' sum), and that query goes the way a KEDA
/// trigger's does: an engine's metric name becomes its preset, anything else a Custom signal on the series of that
/// name.
enum HPAConversion {
    static func convert(_ object: JSONValue) -> Conversion {
        var notes = NoteList()
        let (namespace, name) = Converter.identity(object)
        let spec = object["spec"] ?? .object([:])
        var policy = PolicySpec()
        let target = spec["scaleTargetRef"]
        policy.targetRef = TargetReference(
            apiVersion: target?["apiVersion"]?.stringValue, kind: target?["kind"]?.stringValue,
            name: target?["name"]?.stringValue)
        policy.minReplicas = spec["minReplicas"]?.intValue ?? 1
        policy.maxReplicas = spec["maxReplicas"]?.intValue

        let metrics = spec["metrics"]?.arrayValue ?? []
        if metrics.isEmpty {
            notes.changed("spec.metrics", "none means CPU at 80% for an HPA; the engine's default signals apply here")
        }
        var queries: [(path: String, query: String, target: Double, formula: SignalConversion.Formula)] = []
        for (index, metric) in metrics.enumerated() {
            let path = "spec.metrics[\(index)]"
            let type = metric["type"]?.stringValue ?? ""
            switch type {
            case "Pods", "Object", "External":
                let source = metric[type.prefix(1).lowercased() + type.dropFirst()] ?? .object([:])
                guard let metricName = source.value(at: "metric.name")?.stringValue else {
                    notes.dropped(path, "no metric.name")
                    continue
                }
                let goal = source["target"] ?? .object([:])
                let goalType = goal["type"]?.stringValue ?? ""
                let formula: SignalConversion.Formula
                let value: Double?
                switch (type, goalType) {
                case ("Pods", "AverageValue"):
                    formula = .perReady
                    value = Quantity.value(goal["averageValue"])
                case (_, "AverageValue") where type != "Pods":
                    formula = .total
                    value = Quantity.value(goal["averageValue"])
                case (_, "Value") where type != "Pods":
                    formula = .perReady
                    value = Quantity.value(goal["value"])
                    if type == "Object" {
                        notes.changed(
                            "\(path).object.target",
                            "an Object metric with a Value target asked for ceil(ready × value / target) replicas: "
                                + "on a total over the \(source.value(at: "describedObject.kind")?.stringValue ?? "object"), "
                                + "a number that grows with the very fleet it sizes; the preset asks for "
                                + "ceil(total / target)"
                        )
                    }
                default:
                    notes.dropped("\(path).target", "target type \(goalType) is not used with \(type) metrics")
                    continue
                }
                guard let value, value > 0 else {
                    notes.dropped("\(path).target", "needs a positive target")
                    continue
                }
                let recognized = QueryRecognizer.metric(metricName)
                let selector = matchers(source.value(at: "metric.selector"), at: "\(path).metric.selector", &notes)
                // The pods' mean for a Pods metric and for an engine's per-pod gauge under ready × value / target
                // (which then reads as the per-replica preset); otherwise the series' sum, as the adapter serves it.
                let preset = recognized.map { $0.type.isGauge } ?? false
                let aggregation = type == "Pods" || (preset && formula == .perReady) ? "avg" : "sum"
                if recognized == nil {
                    notes.changed(
                        "\(path).metric.name",
                        "\(metricName) comes from a metrics adapter, whose rules hold the PromQL behind it; the "
                            + "policy reads the Prometheus series of that name: check that it exists")
                }
                queries.append(
                    (
                        "\(path).\(type.prefix(1).lowercased() + type.dropFirst()).metric",
                        "\(aggregation)(\(QueryRecognizer.seriesName(metricName))\(selector))", value, formula
                    ))
            case "Resource", "ContainerResource":
                notes.dropped(path, "CPU and memory are not an inference server's load: its queue and KV cache are")
            default:
                notes.dropped(path, "metric type \(type) is not known")
            }
        }
        var signals = SignalConversion(namespace: namespace, queries: queries.map(\.query))
        for entry in queries {
            signals.add(
                query: entry.query, target: entry.target, formula: entry.formula, activation: nil, path: entry.path,
                notes: &notes)
        }
        if !signals.signals.isEmpty {
            policy.signals = signals.signals
            policy.engine = signals.engine?.rawValue ?? Engine.custom.rawValue
        }
        policy.behavior = BehaviorConversion.convert(spec["behavior"], at: "spec.behavior", notes: &notes)
        return Conversion(
            source: "HorizontalPodAutoscaler \(namespace)/\(name)",
            policy: InferenceAutoscalePolicy(metadata: ObjectMeta(name: name, namespace: namespace), spec: policy),
            notes: notes.notes)
    }

    /// `metric.selector.matchLabels` as PromQL matchers; `matchExpressions` are reported.
    private static func matchers(_ selector: JSONValue?, at path: String, _ notes: inout NoteList) -> String {
        guard let selector else { return "" }
        if selector["matchExpressions"] != nil {
            notes.dropped("\(path).matchExpressions", "only matchLabels converts to PromQL matchers")
        }
        let labels = (selector["matchLabels"]?.objectMembers ?? [:]).sorted { $0.key < $1.key }
        guard !labels.isEmpty else { return "" }
        return "{" + labels.map { "\($0.key)=\"\($0.value.text ?? "")\"" }.joined(separator: ",") + "}"
    }
}
