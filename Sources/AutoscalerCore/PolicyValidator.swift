import Foundation
import KubernetesModel

/// One problem with a policy, located by its field path (`spec.signals[1].query`).
public struct PolicyViolation: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// Every violation found in one policy.
public struct PolicyViolations: Error, Sendable, Equatable, CustomStringConvertible {
    public var violations: [PolicyViolation]

    public init(_ violations: [PolicyViolation]) { self.violations = violations }

    public var description: String { violations.map(\.description).joined(separator: "; ") }
}

/// Checks a policy and applies its defaults. The controller runs it on every policy it reads (the CRD installed in a
/// cluster may be older than the binary), and `inference-autoscaler validate` runs the same code.
public enum PolicyValidator {
    /// Limits shared with the HPA API, so that a behavior block copied from an HPA means the same here.
    static let maxStabilizationWindow = 3600.0
    static let maxPolicyPeriod = 1800.0

    /// The resolved policy, or every violation at once.
    public static func resolve(_ policy: InferenceAutoscalePolicy) -> Result<ResolvedPolicy, PolicyViolations> {
        var check = Checker()
        if let apiVersion = policy.apiVersion, apiVersion != InferenceAutoscalePolicy.apiVersion {
            check.fail("apiVersion", "must be \(InferenceAutoscalePolicy.apiVersion), not \"\(apiVersion)\"")
        }
        if let kind = policy.kind, kind != InferenceAutoscalePolicy.kind {
            check.fail("kind", "must be \(InferenceAutoscalePolicy.kind), not \"\(kind)\"")
        }
        let name = policy.metadata.name ?? ""
        if name.isEmpty {
            check.fail("metadata.name", "required")
        } else if let problem = dnsSubdomainProblem(name) {
            check.fail("metadata.name", problem)
        }
        if let namespace = policy.metadata.namespace, let problem = dnsLabelProblem(namespace) {
            check.fail("metadata.namespace", problem)
        }
        guard let spec = policy.spec else {
            check.fail("spec", "required")
            return .failure(PolicyViolations(check.violations))
        }
        let resolved = resolveSpec(
            spec, namespace: policy.metadata.namespace ?? "default", name: name, check: &check)
        if check.violations.isEmpty, let resolved { return .success(resolved) }
        return .failure(PolicyViolations(check.violations))
    }

    /// Only the violations; empty when the policy is valid.
    public static func violations(of policy: InferenceAutoscalePolicy) -> [PolicyViolation] {
        switch resolve(policy) {
        case .success: []
        case .failure(let failure): failure.violations
        }
    }

    private static func resolveSpec(
        _ spec: PolicySpec, namespace: String, name: String, check: inout Checker
    ) -> ResolvedPolicy? {
        let target = resolveTarget(spec.targetRef, check: &check)

        let minReplicas = spec.minReplicas ?? PolicyDefaults.minReplicas
        if minReplicas < 0 { check.fail("spec.minReplicas", "must be >= 0 (got \(minReplicas))") }
        var maxReplicas = 0
        if let max = spec.maxReplicas {
            maxReplicas = max
            if max < 1 {
                check.fail("spec.maxReplicas", "must be >= 1 (got \(max))")
            } else if max < minReplicas {
                check.fail("spec.maxReplicas", "must be >= spec.minReplicas (\(max) < \(minReplicas))")
            }
        } else {
            check.fail("spec.maxReplicas", "required")
        }

        let polling = check.duration(
            spec.pollingInterval, at: "spec.pollingInterval", default: PolicyDefaults.pollingInterval, minimum: 1)

        var engine = PolicyDefaults.engine
        if let text = spec.engine {
            if let value = Engine(rawValue: text) {
                engine = value
            } else {
                check.fail("spec.engine", unsupported(text, Engine.allCases.map(\.rawValue)))
            }
        }

        let prometheus = resolvePrometheus(spec.prometheus, check: &check)
        let objective = resolveObjective(spec.objective, engine: engine, check: &check)
        let signals = resolveSignals(
            spec.signals, engine: engine, objective: objective != nil, targetName: target?.name, check: &check)
        let schedules = resolveSchedules(spec.schedules, maxReplicas: maxReplicas, check: &check)
        let behavior = resolveBehavior(spec.behavior, objective: objective != nil, check: &check)

        var idleFor: Double?
        if let scaleToZero = spec.scaleToZero {
            if minReplicas > 0 {
                check.fail("spec.scaleToZero", "requires spec.minReplicas: 0 (got \(minReplicas))")
            }
            idleFor = check.duration(
                scaleToZero.idleFor, at: "spec.scaleToZero.idleFor", default: PolicyDefaults.scaleToZeroIdleFor,
                minimum: 0)
        } else if minReplicas == 0 {
            idleFor = PolicyDefaults.scaleToZeroIdleFor
        }

        // At zero there are no pods, so per-pod presets read 0 and would never bring the target back.
        if minReplicas == 0, !signals.isEmpty || objective != nil,
            !signals.contains(where: { $0.type.existsWithoutPods }), !schedules.contains(where: { $0.minReplicas > 0 })
        {
            check.fail(
                "spec.minReplicas",
                "0 needs a signal that exists while no pod runs, to come back from zero: add a GatewayQueueDepth "
                    + "signal (the inference gateway's queue for the pool), a Custom signal (a queue's pending "
                    + "requests) or a schedule with minReplicas >= 1; the engine's per-pod metrics are 0 when no pod "
                    + "runs")
        }

        var expectedStartup: Double?
        if let startup = spec.startup, let text = startup.expectedDuration {
            expectedStartup = check.duration(
                text, at: "spec.startup.expectedDuration", default: 0, minimum: 0, exclusive: true)
        }

        var fallback: ResolvedPolicy.Fallback?
        if let spec = spec.fallback {
            let afterFailures = spec.afterFailures ?? PolicyDefaults.fallbackAfterFailures
            if afterFailures < 1 {
                check.fail("spec.fallback.afterFailures", "must be >= 1 (got \(afterFailures))")
            }
            if let replicas = spec.replicas {
                if replicas < 0 {
                    check.fail("spec.fallback.replicas", "must be >= 0 (got \(replicas))")
                } else if maxReplicas >= 1, replicas > maxReplicas {
                    check.fail(
                        "spec.fallback.replicas", "must be <= spec.maxReplicas (\(replicas) > \(maxReplicas))")
                }
                fallback = .init(replicas: replicas, afterFailures: afterFailures)
            } else {
                check.fail("spec.fallback.replicas", "required")
            }
        }

        let budget = resolveDisruptionBudget(spec.disruptionBudget, check: &check)
        if let mode = spec.mode, !["Active", "Shadow"].contains(mode) {
            check.fail("spec.mode", "must be Active or Shadow (got \"\(mode)\")")
        }

        guard let target, let polling else { return nil }
        return ResolvedPolicy(
            namespace: namespace, name: name, target: target, minReplicas: minReplicas, maxReplicas: maxReplicas,
            pollingInterval: polling, engine: engine, prometheus: prometheus, objective: objective, signals: signals,
            schedules: schedules, behavior: behavior, scaleToZeroIdleFor: idleFor, expectedStartup: expectedStartup,
            fallback: fallback, disruptionBudget: budget, paused: spec.paused ?? false, shadow: spec.mode == "Shadow")
    }

    private static func resolveTarget(_ ref: TargetReference?, check: inout Checker) -> ResolvedPolicy.Target? {
        guard let ref else {
            check.fail("spec.targetRef", "required")
            return nil
        }
        let apiVersion = check.required(ref.apiVersion, at: "spec.targetRef.apiVersion")
        let kind = check.required(ref.kind, at: "spec.targetRef.kind")
        let name = check.required(ref.name, at: "spec.targetRef.name")
        if let name, let problem = dnsSubdomainProblem(name) { check.fail("spec.targetRef.name", problem) }
        if let apiVersion, apiVersion.split(separator: "/", omittingEmptySubsequences: false).count > 2 {
            check.fail("spec.targetRef.apiVersion", "must be VERSION or GROUP/VERSION (got \"\(apiVersion)\")")
        }
        guard let apiVersion, let kind, let name else { return nil }
        return .init(apiVersion: apiVersion, kind: kind, name: name)
    }

    private static func resolvePrometheus(_ spec: PrometheusSpec?, check: inout Checker) -> ResolvedPolicy.Prometheus {
        let spec = spec ?? PrometheusSpec()
        if let address = spec.address {
            if let url = URL(string: address), let scheme = url.scheme?.lowercased(),
                ["http", "https"].contains(scheme),
                let host = url.host, !host.isEmpty
            {
                if url.query != nil { check.fail("spec.prometheus.address", "must not carry a query string") }
                if url.user != nil || url.password != nil {
                    check.fail(
                        "spec.prometheus.address",
                        "must not embed credentials (user:password@host): use basicAuth with Secret references")
                }
            } else {
                check.fail("spec.prometheus.address", "must be an http:// or https:// URL (got \"\(address)\")")
            }
        }
        let timeout =
            check.duration(
                spec.timeout, at: "spec.prometheus.timeout", default: PolicyDefaults.prometheusTimeout, minimum: 0,
                exclusive: true) ?? PolicyDefaults.prometheusTimeout
        for (field, selector) in [
            ("bearerTokenSecretRef", spec.bearerTokenSecretRef),
            ("basicAuth.usernameSecretRef", spec.basicAuth?.usernameSecretRef),
            ("basicAuth.passwordSecretRef", spec.basicAuth?.passwordSecretRef),
            ("tls.caSecretRef", spec.tls?.caSecretRef), ("tls.certSecretRef", spec.tls?.certSecretRef),
            ("tls.keySecretRef", spec.tls?.keySecretRef),
        ] {
            guard let selector else { continue }
            _ = check.required(selector.name, at: "spec.prometheus.\(field).name")
            _ = check.required(selector.key, at: "spec.prometheus.\(field).key")
        }
        if let basic = spec.basicAuth, basic.usernameSecretRef == nil || basic.passwordSecretRef == nil {
            check.fail("spec.prometheus.basicAuth", "needs both usernameSecretRef and passwordSecretRef")
        }
        if spec.basicAuth != nil, spec.bearerTokenSecretRef != nil {
            check.fail("spec.prometheus", "set bearerTokenSecretRef or basicAuth, not both")
        }
        if let tls = spec.tls, (tls.certSecretRef == nil) != (tls.keySecretRef == nil) {
            check.fail("spec.prometheus.tls", "certSecretRef and keySecretRef go together")
        }
        for header in (spec.headers ?? [:]).keys.sorted() {
            let token = header.unicodeScalars.allSatisfy { scalar in
                scalar.isASCII
                    && (CharacterSet.alphanumerics.contains(scalar)
                        || "!#$%&'*+-.^_`|~".unicodeScalars.contains(scalar))
            }
            if header.isEmpty || !token {
                check.fail("spec.prometheus.headers[\(header)]", "not a valid HTTP header name")
            } else if header.lowercased() == "authorization" {
                check.fail(
                    "spec.prometheus.headers[\(header)]",
                    "credentials belong in bearerTokenSecretRef or basicAuth, not in plain headers")
            }
        }
        return .init(address: spec.address, timeout: timeout, spec: spec)
    }

    private static func resolveObjective(
        _ spec: ObjectiveSpec?, engine: Engine, check: inout Checker
    ) -> ResolvedPolicy.Objective? {
        guard let spec else { return nil }
        if engine == .custom {
            check.fail("spec.objective", "needs an engine's metrics (spec.engine other than custom)")
        }
        func latency(_ spec: LatencyObjectiveSpec?, at path: String) -> ResolvedPolicy.LatencyTarget? {
            guard let spec else { return nil }
            let percentile = spec.percentile ?? PolicyDefaults.objectiveQuantile * 100
            if !(percentile >= 50 && percentile < 100) {
                check.fail("\(path).percentile", "must be >= 50 and < 100 (got \(percentile))")
            }
            guard let text = check.required(spec.target, at: "\(path).target"),
                let seconds = check.duration(text, at: "\(path).target", default: 0, minimum: 0, exclusive: true)
            else { return nil }
            return .init(quantile: percentile / 100, seconds: seconds)
        }
        guard let ttftSpec = spec.timeToFirstToken else {
            check.fail("spec.objective.timeToFirstToken", "required")
            return nil
        }
        let ttft = latency(ttftSpec, at: "spec.objective.timeToFirstToken")
        let itl = latency(spec.interTokenLatency, at: "spec.objective.interTokenLatency")
        let headroom = spec.headroomPercent ?? Int((PolicyDefaults.headroom * 100).rounded())
        if !(0...200).contains(headroom) {
            check.fail("spec.objective.headroomPercent", "must be between 0 and 200 (got \(headroom))")
        }
        guard let ttft else { return nil }
        return .init(timeToFirstToken: ttft, interTokenLatency: itl, headroom: Double(headroom) / 100)
    }

    private static func resolveSignals(
        _ specs: [SignalSpec]?, engine: Engine, objective: Bool, targetName: String?, check: inout Checker
    ) -> [ResolvedPolicy.Signal] {
        guard let specs else {
            if objective { return [] }
            if engine == .custom { check.fail("spec.signals", "required when spec.engine is custom") }
            return PolicyDefaults.signals
        }
        if specs.isEmpty { check.fail("spec.signals", "must list at least one signal") }
        let customCount = specs.filter { $0.type == SignalType.custom.rawValue }.count
        var seen: [SignalType: Int] = [:]
        var result: [ResolvedPolicy.Signal] = []
        for (index, spec) in specs.enumerated() {
            let path = "spec.signals[\(index)]"
            guard let typeText = spec.type else {
                check.fail("\(path).type", "required")
                continue
            }
            guard let type = SignalType(rawValue: typeText) else {
                check.fail("\(path).type", unsupported(typeText, SignalType.allCases.map(\.rawValue)))
                continue
            }
            if type != .custom {
                if let first = seen[type] {
                    check.fail("\(path).type", "duplicate signal type \(typeText) (also spec.signals[\(first)])")
                } else {
                    seen[type] = index
                }
            }
            if let problem = engineProblem(type, engine) { check.fail("\(path).type", problem) }

            let target = resolveTarget(spec.target, type: type, path: path, check: &check)

            var targetType = TargetType.averageValue
            if spec.targetType == nil, type.isFleetTotal {
                check.fail(
                    "\(path).targetType",
                    "required for \(type.rawValue), a total over the pool: set Value (the recommendation is "
                        + "ceil(total / target))")
            }
            if let text = spec.targetType {
                if let value = TargetType(rawValue: text) {
                    targetType = value
                    if value == .value, type.isPerReplica {
                        check.fail("\(path).targetType", "\(type.rawValue) is a per-replica measure; use AverageValue")
                    }
                    if value == .averageValue, type.isFleetTotal {
                        check.fail(
                            "\(path).targetType",
                            "\(type.rawValue) is the pool's total (it exists while no pod does); use Value: the "
                                + "recommendation is ceil(total / target)")
                    }
                } else {
                    check.fail("\(path).targetType", unsupported(text, TargetType.allCases.map(\.rawValue)))
                }
            }

            let activation = spec.activation ?? 0
            if !activation.isFinite || activation < 0 {
                check.fail("\(path).activation", "must be >= 0 (got \(activation))")
            }

            var quantile: Double?
            if type == .timeToFirstToken {
                quantile = spec.quantile ?? PolicyDefaults.quantile
                if let q = quantile, !(q > 0 && q < 1) {
                    check.fail("\(path).quantile", "must be between 0 and 1, exclusive (got \(q))")
                }
            } else if spec.quantile != nil {
                check.fail("\(path).quantile", "only used by TimeToFirstToken")
            }

            var query: String?
            if type == .custom {
                query = spec.query?.trimmingCharacters(in: .whitespacesAndNewlines)
                if query?.isEmpty ?? true { check.fail("\(path).query", "required for type Custom") }
            } else if spec.query != nil {
                check.fail("\(path).query", "only used by type Custom (\(typeText) uses the engine's preset)")
            }

            var window: Double?
            if type == .timeToFirstToken || type == .tokenThroughput {
                window = check.duration(
                    spec.window, at: "\(path).window", default: PolicyDefaults.rateWindow, minimum: 1)
            } else if spec.window != nil {
                check.fail("\(path).window", "only used by TimeToFirstToken and TokenThroughput")
            }

            var pool: String?
            if type.isGateway {
                pool = spec.pool ?? targetName
                if let name = spec.pool, let problem = dnsSubdomainProblem(name) {
                    check.fail("\(path).pool", problem)
                }
            } else if spec.pool != nil {
                check.fail("\(path).pool", "only used by the Gateway types (\(typeText) reads the model servers' pods)")
            }

            let name = type == .custom && customCount > 1 ? "Custom[\(index)]" : type.rawValue
            result.append(
                .init(
                    type: type, target: target ?? 1, targetType: targetType, activation: activation,
                    quantile: quantile, query: query, window: window, name: name, pool: pool))
        }
        return result
    }

    private static func resolveTarget(
        _ target: NumberOrString?, type: SignalType, path: String, check: inout Checker
    ) -> Double? {
        let value: Double
        switch target {
        case nil:
            guard let fallback = PolicyDefaults.target(for: type) else {
                check.fail("\(path).target", "required for type \(type.rawValue)")
                return nil
            }
            return fallback
        case .number(let number):
            value = number
        case .string(let text):
            if type == .timeToFirstToken {
                do {
                    value = try PolicyDuration.parse(text)
                } catch {
                    check.fail("\(path).target", error.description)
                    return nil
                }
            } else if let number = Double(text.trimmingCharacters(in: .whitespaces)) {
                value = number
            } else {
                check.fail("\(path).target", "must be a number (got \"\(text)\")")
                return nil
            }
        }
        guard value.isFinite, value > 0 else {
            check.fail("\(path).target", "must be > 0 (got \(value))")
            return nil
        }
        if type == .kvCacheUtilization, value > 1 {
            check.fail("\(path).target", "KV-cache use is a fraction: must be <= 1 (got \(value))")
        }
        if type == .gpuUtilization || type == .gpuMemoryCopyUtilization, value > 100 {
            check.fail("\(path).target", "\(type.rawValue) is a percentage: must be <= 100 (got \(value))")
        }
        return value
    }

    private static func engineProblem(_ type: SignalType, _ engine: Engine) -> String? {
        switch (engine, type) {
        case (.custom, .custom): nil
        case (_, let type) where type.isGateway || type.isGPU: nil
        case (.custom, _): "engine custom has no preset for \(type.rawValue); use type Custom with a query"
        case (.tgi, .kvCacheUtilization): "engine tgi exports no KV-cache usage metric; use type Custom"
        default: nil
        }
    }

    private static func resolveSchedules(
        _ specs: [ScheduleSpec]?, maxReplicas: Int, check: inout Checker
    ) -> [ResolvedPolicy.Schedule] {
        var result: [ResolvedPolicy.Schedule] = []
        var names: [String: Int] = [:]
        for (index, spec) in (specs ?? []).enumerated() {
            let path = "spec.schedules[\(index)]"
            let name = check.required(spec.name, at: "\(path).name")
            if let name {
                if let first = names[name] {
                    check.fail("\(path).name", "duplicate schedule name \"\(name)\" (also spec.schedules[\(first)])")
                } else {
                    names[name] = index
                }
            }
            let zoneName = spec.timezone ?? PolicyDefaults.scheduleTimeZone
            let zone = TimeZone(identifier: zoneName)
            if zone == nil { check.fail("\(path).timezone", "unknown time zone \"\(zoneName)\" (use an IANA name)") }
            let start = cron(spec.start, at: "\(path).start", check: &check)
            let end = cron(spec.end, at: "\(path).end", check: &check)
            let floor = check.required(spec.minReplicas, at: "\(path).minReplicas")
            if let floor {
                if floor < 0 {
                    check.fail("\(path).minReplicas", "must be >= 0 (got \(floor))")
                } else if maxReplicas >= 1, floor > maxReplicas {
                    check.fail("\(path).minReplicas", "must be <= spec.maxReplicas (\(floor) > \(maxReplicas))")
                }
            }
            if let name, let zone, let start, let end, let floor {
                result.append(.init(name: name, timeZone: zone, start: start, end: end, minReplicas: floor))
            }
        }
        return result
    }

    private static func cron(_ text: String?, at path: String, check: inout Checker) -> CronSchedule? {
        guard let text = check.required(text, at: path) else { return nil }
        do {
            return try CronSchedule(parsing: text)
        } catch {
            check.fail(path, "invalid cron expression \"\(text)\": \(error.description)")
            return nil
        }
    }

    private static func resolveBehavior(
        _ spec: BehaviorSpec?, objective: Bool, check: inout Checker
    ) -> ResolvedPolicy.Behavior {
        let tolerance = spec?.tolerance ?? PolicyDefaults.tolerance
        if !(tolerance >= 0 && tolerance < 1) {
            check.fail("spec.behavior.tolerance", "must be >= 0 and < 1 (got \(tolerance))")
        }
        return .init(
            tolerance: tolerance,
            scaleUp: resolveRules(
                spec?.scaleUp, default: PolicyDefaults.scaleUp, at: "spec.behavior.scaleUp", check: &check),
            scaleDown: resolveRules(
                spec?.scaleDown, default: objective ? PolicyDefaults.objectiveScaleDown : PolicyDefaults.scaleDown,
                at: "spec.behavior.scaleDown", check: &check))
    }

    private static func resolveRules(
        _ spec: ScalingRulesSpec?, default defaults: ResolvedPolicy.ScalingRules, at path: String,
        check: inout Checker
    ) -> ResolvedPolicy.ScalingRules {
        guard let spec else { return defaults }
        let window =
            check.duration(
                spec.stabilizationWindow, at: "\(path).stabilizationWindow", default: defaults.stabilizationWindow,
                minimum: 0, maximum: maxStabilizationWindow) ?? defaults.stabilizationWindow
        var select = defaults.selectPolicy
        if let text = spec.selectPolicy {
            if let value = SelectPolicy(rawValue: text) {
                select = value
            } else {
                check.fail("\(path).selectPolicy", unsupported(text, SelectPolicy.allCases.map(\.rawValue)))
            }
        }
        guard let specs = spec.policies else {
            return .init(stabilizationWindow: window, policies: defaults.policies, selectPolicy: select)
        }
        if specs.isEmpty, select != .disabled {
            check.fail("\(path).policies", "must list at least one policy unless selectPolicy is Disabled")
        }
        var policies: [ResolvedPolicy.ScalingPolicy] = []
        for (index, policy) in specs.enumerated() {
            let at = "\(path).policies[\(index)]"
            var type: ScalingPolicyType?
            if let text = check.required(policy.type, at: "\(at).type") {
                type = ScalingPolicyType(rawValue: text)
                if type == nil {
                    check.fail("\(at).type", unsupported(text, ScalingPolicyType.allCases.map(\.rawValue)))
                }
            }
            let value = check.required(policy.value, at: "\(at).value")
            if let value, value <= 0 { check.fail("\(at).value", "must be > 0 (got \(value))") }
            let period = check.duration(
                check.required(policy.period, at: "\(at).period"), at: "\(at).period", default: nil, minimum: 1,
                maximum: maxPolicyPeriod)
            if let type, let value, let period { policies.append(.init(type: type, value: value, period: period)) }
        }
        return .init(stabilizationWindow: window, policies: policies, selectPolicy: select)
    }

    private static func resolveDisruptionBudget(
        _ spec: DisruptionBudgetSpec?, check: inout Checker
    ) -> ResolvedPolicy.DisruptionBudget? {
        guard let spec else { return nil }
        let path = "spec.disruptionBudget"
        switch (spec.maxUnavailable, spec.minAvailable) {
        case (nil, nil):
            check.fail(path, "set exactly one of maxUnavailable or minAvailable")
            return nil
        case (.some, .some):
            check.fail(path, "set exactly one of maxUnavailable or minAvailable, not both")
            return nil
        case (.some(let value), nil):
            checkIntOrPercent(value, at: "\(path).maxUnavailable", check: &check)
            return .maxUnavailable(value)
        case (nil, .some(let value)):
            checkIntOrPercent(value, at: "\(path).minAvailable", check: &check)
            return .minAvailable(value)
        }
    }

    private static func checkIntOrPercent(_ value: IntOrString, at path: String, check: inout Checker) {
        switch value {
        case .int(let count):
            if count < 0 { check.fail(path, "must be >= 0 (got \(count))") }
        case .string(let text):
            guard text.hasSuffix("%"), let percent = Int(text.dropLast()), (0...100).contains(percent) else {
                check.fail(path, "must be a count or a percentage like \"25%\" (got \"\(text)\")")
                return
            }
        }
    }

    private static func unsupported(_ value: String, _ allowed: [String]) -> String {
        "unsupported value \"\(value)\" (one of: \(allowed.joined(separator: ", ")))"
    }

    /// RFC 1123 subdomain, as Kubernetes requires of object names.
    static func dnsSubdomainProblem(_ name: String) -> String? {
        guard name.count <= 253 else { return "must be at most 253 characters" }
        let valid = name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNSLabel($0, 63) }
        return valid ? nil : "must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.'), got \"\(name)\""
    }

    static func dnsLabelProblem(_ name: String) -> String? {
        isDNSLabel(Substring(name), 63) ? nil : "must be a lowercase RFC 1123 label (a-z, 0-9, '-'), got \"\(name)\""
    }

    private static func isDNSLabel(_ label: Substring, _ maxLength: Int) -> Bool {
        guard !label.isEmpty, label.count <= maxLength, let first = label.first, let last = label.last else {
            return false
        }
        func alphanumeric(_ c: Character) -> Bool { c.isASCII && (c.isLowercase || c.isNumber) }
        return alphanumeric(first) && alphanumeric(last) && label.allSatisfy { alphanumeric($0) || $0 == "-" }
    }
}

/// Collects violations while resolving, so that one pass reports them all.
private struct Checker {
    var violations: [PolicyViolation] = []

    mutating func fail(_ path: String, _ message: String) {
        violations.append(PolicyViolation(path, message))
    }

    mutating func required<T>(_ value: T?, at path: String) -> T? {
        if let text = value as? String, text.trimmingCharacters(in: .whitespaces).isEmpty {
            fail(path, "required")
            return nil
        }
        if value == nil { fail(path, "required") }
        return value
    }

    /// Parses a duration field; `default` when absent; nil (and a violation) when invalid.
    mutating func duration(
        _ text: String?, at path: String, default fallback: Double?, minimum: Double, exclusive: Bool = false,
        maximum: Double? = nil
    ) -> Double? {
        guard let text else { return fallback }
        let seconds: Double
        do {
            seconds = try PolicyDuration.parse(text)
        } catch {
            fail(path, error.description)
            return nil
        }
        if exclusive ? seconds <= minimum : seconds < minimum {
            let bound = PolicyDuration.format(minimum)
            fail(path, "must be \(exclusive ? ">" : ">=") \(bound) (got \(text))")
            return nil
        }
        if let maximum, seconds > maximum {
            fail(path, "must be <= \(PolicyDuration.format(maximum)) (got \(text))")
            return nil
        }
        return seconds
    }
}
