import AutoscalerCore
import Foundation
import KubernetesModel

/// A KEDA ScaledObject (`keda.sh/v1alpha1`) as a policy. KEDA's defaults: polling 30 s (at zero; the HPA it makes
/// reads every 15 s above zero), cooldown 300 s (only for the step to zero), min 0, max 100, metricType AverageValue.
enum ScaledObjectConversion {
    static func convert(_ object: JSONValue, authentications: [String: JSONValue]) -> Conversion {
        var notes = NoteList()
        let (namespace, name) = Converter.identity(object)
        let spec = object["spec"] ?? .object([:])
        var policy = PolicySpec()

        let target = spec["scaleTargetRef"]
        policy.targetRef = TargetReference(
            apiVersion: target?["apiVersion"]?.stringValue ?? "apps/v1",
            kind: target?["kind"]?.stringValue ?? "Deployment",
            name: target?["name"]?.stringValue)
        if target?["envSourceContainerName"] != nil {
            notes.dropped(
                "spec.scaleTargetRef.envSourceContainerName", "no trigger here reads a container's environment")
        }

        var minimum = spec["minReplicaCount"]?.intValue ?? 0
        if let idle = spec["idleReplicaCount"]?.intValue, idle == 0, minimum > 0 {
            notes.changed(
                "spec.idleReplicaCount",
                "0 while idle and \(minimum) while active becomes minReplicas 0: the policy has one floor")
            minimum = 0
        }
        policy.maxReplicas = spec["maxReplicaCount"]?.intValue ?? 100
        let polling = spec["pollingInterval"]?.numberValue ?? 30
        policy.pollingInterval = PolicyDuration.format(min(polling, 15))
        if polling > 15 {
            notes.changed(
                "spec.pollingInterval",
                "KEDA polled every \(PolicyDuration.format(polling)) only at zero replicas; above zero its HPA read "
                    + "every 15s, which the policy keeps")
        }
        let cooldown = spec["cooldownPeriod"]?.numberValue ?? 300
        if spec["initialCooldownPeriod"] != nil {
            notes.dropped(
                "spec.initialCooldownPeriod", "no delay after creation: the policy scales from its first poll")
        }

        let triggers = spec["triggers"]?.arrayValue ?? []
        let prometheusQueries = triggers.compactMap { trigger -> String? in
            trigger["type"]?.stringValue == "prometheus" ? trigger.value(at: "metadata.query")?.text : nil
        }
        var signals = SignalConversion(namespace: namespace, queries: prometheusQueries)
        var schedules: [ScheduleSpec] = []
        var prometheus = PrometheusSpec()
        var queriesByName: [String: String] = [:]
        var metricTriggers = 0

        for (index, trigger) in triggers.enumerated() {
            let path = "spec.triggers[\(index)]"
            let metadata = trigger["metadata"] ?? .object([:])
            func value(_ key: String) -> String? { metadata[key]?.text }
            switch trigger["type"]?.stringValue ?? "" {
            case "prometheus":
                metricTriggers += 1
                guard let query = value("query"), let threshold = metadata["threshold"]?.numberValue else {
                    notes.dropped(path, "a prometheus trigger needs metadata.query and a numeric metadata.threshold")
                    continue
                }
                if let name = trigger["name"]?.stringValue { queriesByName[name] = query }
                if let misplaced = value("metricType") {
                    notes.changed(
                        "\(path).metadata.metricType",
                        "KEDA reads metricType on the trigger, not in metadata: it used "
                            + (trigger["metricType"]?.stringValue ?? "its default, AverageValue")
                            + (misplaced == (trigger["metricType"]?.stringValue ?? "AverageValue")
                                ? "" : ", not \(misplaced)"))
                }
                let metricType = trigger["metricType"]?.stringValue ?? "AverageValue"
                if metricType != "AverageValue", metricType != "Value" {
                    notes.dropped("\(path).metricType", "\(metricType) applies to cpu and memory triggers only")
                    continue
                }
                var activation: Double?
                if let threshold = metadata["activationThreshold"]?.numberValue {
                    if minimum == 0 {
                        activation = threshold > 0 ? threshold : nil
                    } else {
                        notes.dropped(
                            "\(path).metadata.activationThreshold",
                            "KEDA ignores activation when minReplicaCount is 1 or more")
                    }
                }
                signals.add(
                    query: query, target: threshold, formula: metricType == "Value" ? .perReady : .total,
                    activation: activation, path: "\(path).metadata.query", notes: &notes)
                convertConnection(
                    metadata, at: "\(path).metadata", authentication: trigger["authenticationRef"],
                    authenticationPath: "\(path).authenticationRef", namespace: namespace,
                    authentications: authentications, into: &prometheus, notes: &notes)
            case "cron":
                guard let start = value("start"), let end = value("end"),
                    let desired = metadata["desiredReplicas"]?.numberValue
                else {
                    notes.dropped(path, "a cron trigger needs metadata.start, end and desiredReplicas")
                    continue
                }
                schedules.append(
                    ScheduleSpec(
                        name: trigger["name"]?.stringValue ?? "cron-\(index)", timezone: value("timezone") ?? "UTC",
                        start: start, end: end, minReplicas: Int(desired)))
            case let type:
                notes.dropped(
                    path,
                    ["cpu", "memory"].contains(type)
                        ? "CPU and memory are not an inference server's load: its queue and KV cache are"
                        : "trigger type \(type) has no equivalent: a policy's signals come from Prometheus")
            }
        }

        var signalSpecs = signals.signals
        if let modifiers = spec.value(at: "advanced.scalingModifiers") {
            if let composite = compositeSignal(modifiers, queries: queriesByName, namespace: namespace, notes: &notes) {
                signalSpecs = [composite]
            }
        }
        if !signalSpecs.isEmpty {
            policy.signals = signalSpecs
        } else if metricTriggers == 0 {
            notes.changed(
                "spec.triggers", "no metric trigger: the engine's default signals apply next to the schedules")
        }
        policy.engine = signals.engine?.rawValue ?? (signalSpecs.isEmpty ? nil : Engine.custom.rawValue)
        if !schedules.isEmpty { policy.schedules = schedules }
        if prometheus != PrometheusSpec() { policy.prometheus = prometheus }

        // At zero no pod exports the engine's metrics: only a Custom signal or a schedule can bring it back.
        let comesBack =
            signalSpecs.contains { $0.type == SignalType.custom.rawValue }
            || schedules.contains { ($0.minReplicas ?? 0) > 0 }
        if minimum == 0, !comesBack {
            notes.changed(
                "spec.minReplicaCount",
                "0 kept at 1: at zero no pod exports the engine's metrics, so nothing would bring the workload back; "
                    + "add a Custom signal on a gateway's or router's queue to scale to zero")
            minimum = 1
        }
        policy.minReplicas = minimum
        if minimum == 0 { policy.scaleToZero = ScaleToZeroSpec(idleFor: PolicyDuration.format(cooldown)) }

        if let behavior = spec.value(at: "advanced.horizontalPodAutoscalerConfig.behavior") {
            policy.behavior = BehaviorConversion.convert(
                behavior, at: "spec.advanced.horizontalPodAutoscalerConfig.behavior", notes: &notes)
        }
        if spec.value(at: "advanced.horizontalPodAutoscalerConfig.name") != nil {
            notes.dropped("spec.advanced.horizontalPodAutoscalerConfig.name", "no HPA is made")
        }
        if spec.value(at: "advanced.restoreToOriginalReplicaCount")?.stringValue == "true"
            || spec.value(at: "advanced.restoreToOriginalReplicaCount") == .bool(true)
        {
            notes.dropped(
                "spec.advanced.restoreToOriginalReplicaCount", "deleting a policy leaves the replica count as it is")
        }
        if let fallback = spec["fallback"] {
            policy.fallback = FallbackSpec(
                replicas: fallback["replicas"]?.intValue, afterFailures: fallback["failureThreshold"]?.intValue)
            if let behavior = fallback["behavior"]?.stringValue, behavior != "static" {
                notes.changed("spec.fallback.behavior", "\(behavior) becomes static: the fallback is a fixed count")
            }
        }
        let annotations = object.value(at: "metadata.annotations")
        if annotations?["autoscaling.keda.sh/paused"]?.stringValue == "true" { policy.paused = true }
        for key in [
            "autoscaling.keda.sh/paused-replicas", "autoscaling.keda.sh/paused-scale-in",
            "autoscaling.keda.sh/paused-scale-out",
        ]
        where annotations?[key] != nil {
            notes.dropped("metadata.annotations[\(key)]", "a policy pauses as a whole (spec.paused)")
        }

        return Conversion(
            source: "ScaledObject \(namespace)/\(name)",
            policy: InferenceAutoscalePolicy(metadata: ObjectMeta(name: name, namespace: namespace), spec: policy),
            notes: notes.notes)
    }

    /// Server address, headers, TLS and the TriggerAuthentication's Secrets. One Prometheus per policy: the first
    /// trigger's address wins and a different one is reported.
    private static func convertConnection(
        _ metadata: JSONValue, at path: String, authentication: JSONValue?, authenticationPath: String,
        namespace: String, authentications: [String: JSONValue], into prometheus: inout PrometheusSpec,
        notes: inout NoteList
    ) {
        if let address = metadata["serverAddress"]?.text {
            if prometheus.address == nil {
                prometheus.address = address
                notes.needs(
                    "\(path).serverAddress",
                    "the controller reads only its --default-prometheus and the addresses of --allow-prometheus")
            } else if prometheus.address != address {
                notes.dropped(
                    "\(path).serverAddress", "a policy reads one Prometheus: \(prometheus.address ?? "") is kept")
            }
        }
        if let headers = metadata["customHeaders"]?.text {
            for pair in headers.split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2 else { continue }
                prometheus.headers = (prometheus.headers ?? [:]).merging([parts[0]: parts[1]]) { _, new in new }
            }
            notes.needs("\(path).customHeaders", "headers are sent only in namespaces of --allow-prometheus-headers-in")
        }
        if metadata["unsafeSsl"]?.text == "true" {
            prometheus.tls = prometheus.tls ?? PrometheusTLSSpec()
            prometheus.tls?.insecureSkipVerify = true
            notes.needs("\(path).unsafeSsl", "skipping verification needs --allow-insecure-prometheus-in")
        }
        if let timeout = metadata["timeout"] {
            // Milliseconds as a number, or (KEDA 2.21) a duration.
            if let millis = timeout.numberValue {
                prometheus.timeout = PolicyDuration.format(millis / 1000)
            } else if let text = timeout.stringValue {
                prometheus.timeout = text
            }
        }
        if metadata["ignoreNullValues"] != nil {
            notes.dropped(
                "\(path).ignoreNullValues",
                "an empty result is always missing data here: the policy holds, then falls back")
        }
        if metadata["metricName"] != nil {
            notes.dropped("\(path).metricName", "no effect since KEDA 2.12")
        }
        for key in ["namespace", "queryParameters", "awsRegion", "identityOwner"] where metadata[key] != nil {
            notes.dropped("\(path).\(key)", "no equivalent: the policy sends only the query (and its headers)")
        }
        guard let authentication else { return }
        let name = authentication["name"]?.stringValue ?? ""
        if authentication["kind"]?.stringValue == "ClusterTriggerAuthentication" {
            notes.dropped(
                authenticationPath,
                "ClusterTriggerAuthentication \(name): its Secrets live in KEDA's namespace; copy them into "
                    + "\(namespace) and name them in spec.prometheus")
            return
        }
        guard let found = authentications["\(namespace)/\(name)"] else {
            notes.dropped(
                authenticationPath,
                "TriggerAuthentication \(name) is not in the input: name its Secrets in spec.prometheus "
                    + "(bearerTokenSecretRef, basicAuth, tls)")
            return
        }
        for reference in found.value(at: "spec.secretTargetRef")?.arrayValue ?? [] {
            let secret = SecretKeySelector(name: reference["name"]?.stringValue, key: reference["key"]?.stringValue)
            let parameter = reference["parameter"]?.stringValue ?? ""
            if parameter == "bearerToken" {
                prometheus.bearerTokenSecretRef = secret
            } else if let field = basicAuthFields[parameter] {
                var basicAuth = prometheus.basicAuth ?? BasicAuthSpec()
                basicAuth[keyPath: field] = secret
                prometheus.basicAuth = basicAuth
            } else if let field = tlsFields[parameter] {
                var tls = prometheus.tls ?? PrometheusTLSSpec()
                tls[keyPath: field] = secret
                prometheus.tls = tls
            } else {
                notes.dropped(
                    "TriggerAuthentication \(name) secretTargetRef \(parameter)",
                    "no Prometheus credential of that kind")
            }
        }
        for key in ["env", "hashiCorpVault", "azureKeyVault", "podIdentity", "awsSecretManager", "gcpSecretManager"]
        where found.value(at: "spec.\(key)") != nil {
            notes.dropped("TriggerAuthentication \(name) spec.\(key)", "credentials are read from Secrets only")
        }
    }

    /// A TriggerAuthentication's `secretTargetRef` parameters, by where the policy keeps each Secret.
    private static let basicAuthFields: [String: WritableKeyPath<BasicAuthSpec, SecretKeySelector?> & Sendable] = [
        "username": \.usernameSecretRef, "password": \.passwordSecretRef,
    ]
    private static let tlsFields: [String: WritableKeyPath<PrometheusTLSSpec, SecretKeySelector?> & Sendable] = [
        "ca": \.caSecretRef, "cert": \.certSecretRef, "key": \.keySecretRef,
    ]

    /// `advanced.scalingModifiers`: a formula over the triggers' names becomes one Custom signal whose query is the
    /// formula with each name replaced by its trigger's query. Only arithmetic converts.
    private static func compositeSignal(
        _ modifiers: JSONValue, queries: [String: String], namespace: String, notes: inout NoteList
    ) -> SignalSpec? {
        let path = "spec.advanced.scalingModifiers"
        guard let formula = modifiers["formula"]?.text, let target = modifiers["target"]?.numberValue else {
            notes.dropped(path, "needs formula and target")
            return nil
        }
        var query = ""
        var word = ""
        var unknown: [String] = []
        func flush() {
            guard !word.isEmpty else { return }
            if word.first!.isNumber {
                query += word
            } else if let inner = queries[word] {
                query += "(\(inner.trimmingCharacters(in: .whitespacesAndNewlines)))"
            } else {
                unknown.append(word)
            }
            word = ""
        }
        for character in formula {
            if character.isLetter || character.isNumber || character == "_" || character == "." {
                word.append(character)
            } else if "+-*/() ".contains(character) {
                flush()
                query.append(character)
            } else {
                unknown.append(String(character))
            }
        }
        flush()
        guard unknown.isEmpty else {
            notes.dropped(
                "\(path).formula",
                "only arithmetic over prometheus triggers' names converts (not \(unknown.joined(separator: ", "))); "
                    + "the triggers are kept as separate signals")
            return nil
        }
        var signals = SignalConversion(namespace: namespace, queries: [])
        let metricType = modifiers["metricType"]?.stringValue ?? "AverageValue"
        signals.add(
            query: query, target: target, formula: metricType == "Value" ? .perReady : .total,
            activation: modifiers["activationTarget"]?.numberValue.flatMap { $0 > 0 ? $0 : nil },
            path: "\(path).formula", notes: &notes)
        notes.changed(
            "\(path).formula",
            "the triggers' queries are combined in PromQL, whose operators match series on their labels: each must "
                + "return one series without labels, as KEDA required")
        return signals.signals.first
    }
}
