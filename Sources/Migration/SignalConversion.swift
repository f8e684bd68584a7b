import AutoscalerCore
import Foundation
import KubernetesModel

/// Turns one metric of a ScaledObject or an HPA into a signal: the engine's preset when the query is one the engine's
/// metric names recognize, else a Custom signal on the query, scoped to the object's namespace.
struct SignalConversion {
    /// How the original turned the query's value into replicas.
    enum Formula {
        /// `ceil(value / target)`: KEDA's AverageValue, HPA Object or External AverageValue.
        case total
        /// `ceil(ready × value / target)`: KEDA's Value, HPA Pods (on the mean) and Object or External Value.
        case perReady
    }

    let namespace: String
    /// The engine of the presets; nil when no query is recognized (the policy is then `engine: custom`).
    let engine: Engine?
    private(set) var signals: [SignalSpec] = []
    private var presets: Set<SignalType> = []

    init(namespace: String, queries: [String]) {
        self.namespace = namespace
        engine = queries.lazy.compactMap { QueryRecognizer.recognize($0)?.engine }.first
    }

    mutating func add(
        query: String, target: Double, formula: Formula, activation: Double?, path: String, notes: inout NoteList
    ) {
        if let recognized = QueryRecognizer.recognize(query), recognized.engine == engine,
            !presets.contains(recognized.type),
            let signal = preset(recognized, target: target, formula: formula, path: path, notes: &notes)
        {
            var signal = signal
            signal.activation = activation
            presets.insert(recognized.type)
            signals.append(signal)
            return
        }
        var signal = SignalSpec(
            type: SignalType.custom.rawValue, target: .number(target),
            targetType: formula == .total ? TargetType.value.rawValue : TargetType.averageValue.rawValue,
            activation: activation, query: query.trimmingCharacters(in: .whitespacesAndNewlines))
        switch SeriesSelectors.scoped(signal.query ?? "", to: namespace) {
        case .success(let scoped):
            if scoped != signal.query {
                notes.changed(
                    path, "namespace=\"\(namespace)\" added to its selectors: a policy reads only its own namespace")
            }
            signal.query = scoped
        case .failure(let error):
            notes.changed(path, "kept as written; its selectors could not be read (\(error)) to scope them")
        }
        notes.needs(path, "a Custom query runs only in namespaces the operator lists in --allow-custom-queries-in")
        signals.append(signal)
    }

    private func preset(
        _ found: QueryRecognizer.Recognized, target: Double, formula: Formula, path: String, notes: inout NoteList
    ) -> SignalSpec? {
        var signal = SignalSpec(
            type: found.type.rawValue, target: .number(target), targetType: TargetType.averageValue.rawValue)
        switch found.type {
        case .queueDepth, .runningRequests, .kvCacheUtilization:
            switch (found.aggregation, formula) {
            case (.sum, .total), (.avg, .perReady):
                break
            case (.sum, .perReady):
                // ceil(ready × total / target) is no preset's formula: keep the query as it was.
                return nil
            case (.none, _):
                notes.changed(
                    path,
                    "one series per pod: KEDA fails with \"returned multiple elements\" once two pods report; the "
                        + "preset sums over the target's pods, ceil(total / target)")
            case (.avg, .total):
                notes.changed(
                    path,
                    "ceil(avg / target) did not grow with the fleet (an average near the target never asks for more "
                        + "than one or two replicas); the preset asks for ceil(replicas × average / target), the "
                        + "per-replica target the threshold meant")
            case (.max, _), (.min, _):
                notes.changed(
                    path, "\(found.aggregation.rawValue) over the pods becomes their average, per replica")
            }
        case .tokenThroughput:
            guard formula == .total else { return nil }
            signal.window = found.window
        case .timeToFirstToken:
            signal.target = .string(PolicyDuration.format(target))
            signal.quantile = found.quantile
            signal.window = found.window
            signal.targetType = nil
            notes.changed(
                path,
                formula == .total
                    ? "KEDA asked for ceil(latency / threshold) replicas whatever the fleet's size; a latency signal "
                        + "asks for ceil(replicas × latency / target) while above its target and abstains below it"
                    : "a latency signal abstains below its target: it never shrinks the fleet on its own")
        case .gpuUtilization, .gpuMemoryCopyUtilization, .gpuFramebufferUsed, .gpuPower, .custom, .gatewayQueueDepth,
            .gatewaySaturation, .gatewayRunningRequests:
            return nil
        }
        if !found.otherMatchers.isEmpty {
            notes.changed(
                path,
                "matchers \(found.otherMatchers.joined(separator: ", ")) dropped: the preset reads the target's own "
                    + "pods")
        }
        if let current = found.currentName {
            notes.changed(
                path,
                "\(found.metric) is read as \(current), the \(found.engine.rawValue) engine's name for it today; "
                    + "the preset also reads the older names")
        }
        if found.defaultsToZero {
            notes.changed(
                path,
                "`or vector(0)` dropped: a signal no pod reports is missing data here (the policy holds, then falls "
                    + "back), never zero")
        }
        return signal
    }
}
