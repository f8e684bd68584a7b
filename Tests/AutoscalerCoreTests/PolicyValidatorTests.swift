import Foundation
import KubernetesModel
import Testing

@testable import AutoscalerCore

@Suite struct PolicyValidatorTests {
    static func document(_ json: String) throws -> InferenceAutoscalePolicy {
        try JSONDecoder().decode(InferenceAutoscalePolicy.self, from: Data(json.utf8))
    }

    static func minimal(spec: String) -> String {
        """
        {"apiVersion": "autoscaling.inference.dev/v1alpha1", "kind": "InferenceAutoscalePolicy",
         "metadata": {"name": "llama", "namespace": "inference"},
         "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm-llama3"}, \(spec)}}
        """
    }

    @Test func everyDefaultIsApplied() throws {
        let policy = try Self.document(Self.minimal(spec: #""maxReplicas": 8"#))
        let resolved = try PolicyValidator.resolve(policy).get()
        #expect(resolved.namespace == "inference")
        #expect(resolved.name == "llama")
        #expect(resolved.target == .init(apiVersion: "apps/v1", kind: "Deployment", name: "vllm-llama3"))
        #expect(resolved.minReplicas == 1)
        #expect(resolved.maxReplicas == 8)
        #expect(resolved.pollingInterval == 15)
        #expect(resolved.engine == .vllm)
        #expect(resolved.prometheus.timeout == 5)
        #expect(resolved.signals == [.init(type: .queueDepth, target: 5)])
        #expect(resolved.behavior.tolerance == 0.1)
        #expect(resolved.behavior.scaleUp.stabilizationWindow == 0)
        #expect(
            resolved.behavior.scaleUp.policies == [
                .init(type: .pods, value: 4, period: 15), .init(type: .percent, value: 100, period: 15),
            ])
        #expect(resolved.behavior.scaleUp.selectPolicy == .max)
        #expect(resolved.behavior.scaleDown.stabilizationWindow == 300)
        #expect(resolved.behavior.scaleDown.policies == [.init(type: .pods, value: 1, period: 120)])
        #expect(resolved.scaleToZeroIdleFor == nil)
        #expect(resolved.fallback == nil)
        #expect(resolved.disruptionBudget == nil)
        #expect(resolved.paused == false)
    }

    @Test func aFullPolicyResolves() throws {
        let policy = try Self.document(
            Self.minimal(
                spec: """
                    "minReplicas": 0, "maxReplicas": 8, "pollingInterval": "30s", "engine": "sglang",
                    "prometheus": {"address": "http://prometheus.monitoring:9090", "timeout": "2s",
                                   "headers": {"X-Scope-OrgID": "team-a"}},
                    "signals": [
                      {"type": "QueueDepth", "target": 5, "activation": 1},
                      {"type": "TimeToFirstToken", "quantile": 0.99, "target": "500ms", "window": "2m"},
                      {"type": "KVCacheUtilization", "target": 0.85},
                      {"type": "GPUUtilization", "target": 80},
                      {"type": "TokenThroughput", "target": "2500"},
                      {"type": "Custom", "query": "sum(x)", "target": 10, "targetType": "Value"}],
                    "schedules": [{"name": "business-hours", "timezone": "Europe/Amsterdam",
                                   "start": "30 7 * * 1-5", "end": "0 20 * * 1-5", "minReplicas": 3}],
                    "behavior": {"tolerance": 0.05, "scaleUp": {"stabilizationWindow": "30s"},
                                 "scaleDown": {"stabilizationWindow": "10m", "selectPolicy": "Min",
                                               "policies": [{"type": "Percent", "value": 50, "period": "1m"}]}},
                    "scaleToZero": {"idleFor": "15m"}, "startup": {"expectedDuration": "3m"},
                    "fallback": {"replicas": 3}, "disruptionBudget": {"maxUnavailable": "25%"}, "paused": true
                    """))
        let resolved = try PolicyValidator.resolve(policy).get()
        #expect(resolved.pollingInterval == 30)
        #expect(resolved.engine == .sglang)
        #expect(resolved.prometheus.timeout == 2)
        #expect(resolved.signals.count == 6)
        #expect(resolved.signals[0].activation == 1)
        #expect(resolved.signals[1].target == 0.5)
        #expect(resolved.signals[1].quantile == 0.99)
        #expect(resolved.signals[1].window == 120)
        #expect(resolved.signals[4].target == 2500)
        #expect(resolved.signals[4].window == 60)
        #expect(resolved.signals[5].targetType == .value)
        #expect(resolved.signals[5].query == "sum(x)")
        #expect(resolved.schedules.first?.minReplicas == 3)
        #expect(resolved.behavior.tolerance == 0.05)
        #expect(resolved.behavior.scaleUp.stabilizationWindow == 30)
        #expect(resolved.behavior.scaleUp.policies == PolicyDefaults.scaleUp.policies)
        #expect(resolved.behavior.scaleDown.stabilizationWindow == 600)
        #expect(resolved.behavior.scaleDown.selectPolicy == .min)
        #expect(resolved.behavior.scaleDown.policies == [.init(type: .percent, value: 50, period: 60)])
        #expect(resolved.scaleToZeroIdleFor == 900)
        #expect(resolved.expectedStartup == 180)
        #expect(resolved.fallback == .init(replicas: 3, afterFailures: 3))
        #expect(resolved.disruptionBudget == .maxUnavailable(.string("25%")))
        #expect(resolved.paused)
    }

    @Test func minReplicasZeroWithoutScaleToZeroUsesTheDefaultIdleTime() throws {
        let gateway = #"{"type": "Custom", "query": "sum(pending{namespace=\"inference\"})", "target": 1}"#
        let policy = try Self.document(
            Self.minimal(spec: #""minReplicas": 0, "maxReplicas": 2, "signals": [\#(gateway)]"#))
        #expect(try PolicyValidator.resolve(policy).get().scaleToZeroIdleFor == 600)
    }

    @Test func zeroWithOnlyPerPodPresetsCannotComeBackAndSaysSo() throws {
        let presets = try Self.document(Self.minimal(spec: #""minReplicas": 0, "maxReplicas": 2"#))
        guard case .failure(let failure) = PolicyValidator.resolve(presets) else {
            Issue.record("a preset-only policy may go to zero and never come back")
            return
        }
        #expect(failure.violations.map(\.path) == ["spec.minReplicas"])
        #expect(failure.description.contains("GatewayQueueDepth signal"))
        #expect(failure.description.contains("Custom signal"))
        let scheduled = try Self.document(
            Self.minimal(
                spec:
                    #""minReplicas": 0, "maxReplicas": 2, "schedules": [{"name": "day", "start": "0 8 * * *", "end": "0 18 * * *", "minReplicas": 1}]"#
            ))
        #expect(throws: Never.self) { try PolicyValidator.resolve(scheduled).get() }
    }

    @Test func theGatewaysQueueBringsAWorkloadBackFromZeroAndReadsTheTargetsPoolUnlessNamed() throws {
        let policy = try Self.document(
            Self.minimal(
                spec: #""minReplicas": 0, "maxReplicas": 8, "signals": [{"type": "GatewayQueueDepth", "target": 4, "#
                    + #""targetType": "Value"}, {"type": "GatewaySaturation", "pool": "llama-pool"}]"#))
        let resolved = try PolicyValidator.resolve(policy).get()
        #expect(
            resolved.signals == [
                .init(type: .gatewayQueueDepth, target: 4, targetType: .value, pool: "vllm-llama3"),
                .init(type: .gatewaySaturation, target: 0.8, pool: "llama-pool"),
            ])
        // Engine custom has the gateway's presets too: they are the router's, not the engine's.
        let custom = try Self.document(
            Self.minimal(
                spec: #""engine": "custom", "minReplicas": 0, "maxReplicas": 2, "signals": [{"type": "#
                    + #""GatewayQueueDepth", "target": 1, "targetType": "Value"}]"#))
        #expect(throws: Never.self) { try PolicyValidator.resolve(custom).get() }
        // Running requests per endpoint vanish with the endpoints: not a way back from zero.
        let running = try Self.document(
            Self.minimal(
                spec: #""minReplicas": 0, "maxReplicas": 2, "signals": [{"type": "GatewayRunningRequests", "#
                    + #""target": 8}]"#))
        #expect(PolicyValidator.violations(of: running).map(\.path) == ["spec.minReplicas"])
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var spec: String
        var path: String
        var message: String
        var testDescription: String { "\(path): \(message)" }
    }

    @Test(arguments: [
        Case(
            spec: #""minReplicas": 4, "maxReplicas": 2"#, path: "spec.maxReplicas",
            message: "must be >= spec.minReplicas (2 < 4)"),
        Case(spec: #""maxReplicas": 0, "minReplicas": 0"#, path: "spec.maxReplicas", message: "must be >= 1 (got 0)"),
        Case(spec: #""minReplicas": -1, "maxReplicas": 2"#, path: "spec.minReplicas", message: "must be >= 0 (got -1)"),
        Case(spec: #""minReplicas": 1"#, path: "spec.maxReplicas", message: "required"),
        Case(
            spec: #""maxReplicas": 2, "pollingInterval": "15""#, path: "spec.pollingInterval",
            message: "missing unit in duration \"15\" (use e.g. 15s, 5m, 1h30m)"),
        Case(
            spec: #""maxReplicas": 2, "pollingInterval": "500ms""#, path: "spec.pollingInterval",
            message: "must be >= 1s (got 500ms)"),
        Case(
            spec: #""maxReplicas": 2, "pollingInterval": "5 minutes""#, path: "spec.pollingInterval",
            message: "unknown unit \" minutes\" (use ns, us, ms, s, m or h)"),
        Case(
            spec: #""maxReplicas": 2, "engine": "triton""#, path: "spec.engine",
            message: "unsupported value \"triton\" (one of: vllm, tgi, sglang, nim, trtllm, custom)"),
        Case(
            spec: #""maxReplicas": 2, "signals": [{"type": "QueueDepth"}, {"type": "Custom", "target": 3}]"#,
            path: "spec.signals[1].query", message: "required for type Custom"),
        Case(
            spec: #""maxReplicas": 2, "signals": [{"type": "GatewayQueueDepth", "target": 3}]"#,
            path: "spec.signals[0].targetType", message: "required for GatewayQueueDepth, a total over the pool"),
        Case(
            spec:
                #""maxReplicas": 2, "signals": [{"type": "GatewayQueueDepth", "target": 3, "targetType": "AverageValue"}]"#,
            path: "spec.signals[0].targetType", message: "GatewayQueueDepth is the pool's total"),
        Case(
            spec: #""maxReplicas": 2, "signals": [{"type": "GatewaySaturation", "targetType": "Value"}]"#,
            path: "spec.signals[0].targetType", message: "GatewaySaturation is a per-replica measure"),
        Case(
            spec: #""maxReplicas": 2, "signals": [{"type": "GPUMemoryCopyUtilization", "target": 150}]"#,
            path: "spec.signals[0].target", message: "GPUMemoryCopyUtilization is a percentage: must be <= 100"),
        Case(
            spec: #""maxReplicas": 2, "signals": [{"type": "GPUPower"}]"#, path: "spec.signals[0].target",
            message: "required"),
        Case(
            spec: #""maxReplicas": 2, "signals": [{"type": "QueueDepth", "pool": "llama"}]"#,
            path: "spec.signals[0].pool", message: "only used by the Gateway types"),
        Case(
            spec:
                #""maxReplicas": 2, "signals": [{"type": "GatewayRunningRequests", "target": 8, "pool": "Llama_Pool"}]"#,
            path: "spec.signals[0].pool", message: ""),
        Case(
            spec: #""maxReplicas": 2, "signals": [{"type": "QueueDepth", "target": -5}]"#,
            path: "spec.signals[0].target", message: "must be > 0 (got -5.0)"),
        Case(
            spec: #""maxReplicas": 2, "signals": [{"type": "QueueDepth"}, {"type": "QueueDepth", "target": 3}]"#,
            path: "spec.signals[1].type", message: "duplicate signal type QueueDepth (also spec.signals[0])"),
        Case(
            spec: #""maxReplicas": 2, "signals": [{"type": "Latency"}]"#, path: "spec.signals[0].type",
            message:
                "unsupported value \"Latency\" (one of: QueueDepth, RunningRequests, TimeToFirstToken, KVCacheUtilization, GPUUtilization, GPUMemoryCopyUtilization, GPUFramebufferUsed, GPUPower, TokenThroughput, GatewayQueueDepth, GatewaySaturation, GatewayRunningRequests, Custom)"
        ),
        Case(
            spec: #""maxReplicas": 2, "signals": [{"type": "TimeToFirstToken"}]"#, path: "spec.signals[0].target",
            message: "required for type TimeToFirstToken"),
        Case(
            spec: #""maxReplicas": 2, "signals": [{"type": "TimeToFirstToken", "target": "fast"}]"#,
            path: "spec.signals[0].target", message: "invalid duration \"fast\""),
        Case(
            spec: #""maxReplicas": 2, "signals": [{"type": "TimeToFirstToken", "target": "1s", "quantile": 1.5}]"#,
            path: "spec.signals[0].quantile", message: "must be between 0 and 1, exclusive (got 1.5)"),
        Case(
            spec: #""maxReplicas": 2, "signals": [{"type": "KVCacheUtilization", "target": 85}]"#,
            path: "spec.signals[0].target", message: "KV-cache use is a fraction: must be <= 1 (got 85.0)"),
        Case(
            spec: #""maxReplicas": 2, "signals": [{"type": "KVCacheUtilization", "targetType": "Value"}]"#,
            path: "spec.signals[0].targetType", message: "KVCacheUtilization is a per-replica measure; use AverageValue"
        ),
        Case(
            spec: #""maxReplicas": 2, "signals": [{"type": "QueueDepth", "activation": -1}]"#,
            path: "spec.signals[0].activation", message: "must be >= 0 (got -1.0)"),
        Case(
            spec: #""maxReplicas": 2, "signals": [{"type": "QueueDepth", "query": "up"}]"#,
            path: "spec.signals[0].query", message: "only used by type Custom (QueueDepth uses the engine's preset)"),
        Case(spec: #""maxReplicas": 2, "signals": []"#, path: "spec.signals", message: "must list at least one signal"),
        Case(
            spec: #""maxReplicas": 2, "engine": "tgi", "signals": [{"type": "KVCacheUtilization"}]"#,
            path: "spec.signals[0].type", message: "engine tgi exports no KV-cache usage metric; use type Custom"),
        Case(
            spec: #""maxReplicas": 2, "engine": "custom""#, path: "spec.signals",
            message: "required when spec.engine is custom"),
        Case(
            spec:
                #""maxReplicas": 4, "schedules": [{"name": "a", "timezone": "Mars/Olympus", "start": "0 8 * * *", "end": "0 18 * * *", "minReplicas": 2}]"#,
            path: "spec.schedules[0].timezone", message: "unknown time zone \"Mars/Olympus\" (use an IANA name)"),
        Case(
            spec:
                #""maxReplicas": 4, "schedules": [{"name": "a", "start": "0 25 * * *", "end": "0 18 * * *", "minReplicas": 2}]"#,
            path: "spec.schedules[0].start", message: "invalid cron expression \"0 25 * * *\""),
        Case(
            spec:
                #""maxReplicas": 4, "schedules": [{"name": "a", "start": "0 8 * *", "end": "0 18 * * *", "minReplicas": 2}]"#,
            path: "spec.schedules[0].start", message: "invalid cron expression \"0 8 * *\""),
        Case(
            spec:
                #""maxReplicas": 4, "schedules": [{"name": "a", "start": "0 8 * * *", "end": "0 18 * * *", "minReplicas": 9}]"#,
            path: "spec.schedules[0].minReplicas", message: "must be <= spec.maxReplicas (9 > 4)"),
        Case(
            spec:
                #""maxReplicas": 4, "schedules": [{"name": "a", "start": "0 8 * * *", "end": "0 18 * * *", "minReplicas": 1}, {"name": "a", "start": "0 8 * * *", "end": "0 18 * * *", "minReplicas": 1}]"#,
            path: "spec.schedules[1].name", message: "duplicate schedule name \"a\" (also spec.schedules[0])"),
        Case(
            spec: #""maxReplicas": 4, "schedules": [{"name": "a", "start": "0 8 * * *", "minReplicas": 1}]"#,
            path: "spec.schedules[0].end", message: "required"),
        Case(
            spec: #""maxReplicas": 4, "minReplicas": 2, "scaleToZero": {"idleFor": "5m"}"#, path: "spec.scaleToZero",
            message: "requires spec.minReplicas: 0 (got 2)"),
        Case(
            spec: #""maxReplicas": 4, "behavior": {"tolerance": 1.5}"#, path: "spec.behavior.tolerance",
            message: "must be >= 0 and < 1 (got 1.5)"),
        Case(
            spec: #""maxReplicas": 4, "behavior": {"scaleDown": {"stabilizationWindow": "2h"}}"#,
            path: "spec.behavior.scaleDown.stabilizationWindow", message: "must be <= 1h (got 2h)"),
        Case(
            spec: #""maxReplicas": 4, "behavior": {"scaleUp": {"stabilizationWindow": "-5s"}}"#,
            path: "spec.behavior.scaleUp.stabilizationWindow", message: "must be >= 0s (got -5s)"),
        Case(
            spec:
                #""maxReplicas": 4, "behavior": {"scaleUp": {"policies": [{"type": "Replicas", "value": 2, "period": "15s"}]}}"#,
            path: "spec.behavior.scaleUp.policies[0].type",
            message: "unsupported value \"Replicas\" (one of: Pods, Percent)"),
        Case(
            spec:
                #""maxReplicas": 4, "behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 0, "period": "15s"}]}}"#,
            path: "spec.behavior.scaleUp.policies[0].value", message: "must be > 0 (got 0)"),
        Case(
            spec:
                #""maxReplicas": 4, "behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "period": "1h"}]}}"#,
            path: "spec.behavior.scaleUp.policies[0].period", message: "must be <= 30m (got 1h)"),
        Case(
            spec: #""maxReplicas": 4, "behavior": {"scaleUp": {"policies": []}}"#,
            path: "spec.behavior.scaleUp.policies",
            message: "must list at least one policy unless selectPolicy is Disabled"),
        Case(
            spec: #""maxReplicas": 4, "behavior": {"scaleDown": {"selectPolicy": "Fastest"}}"#,
            path: "spec.behavior.scaleDown.selectPolicy",
            message: "unsupported value \"Fastest\" (one of: Max, Min, Disabled)"),
        Case(
            spec: #""maxReplicas": 4, "fallback": {"replicas": 9}"#, path: "spec.fallback.replicas",
            message: "must be <= spec.maxReplicas (9 > 4)"),
        Case(
            spec: #""maxReplicas": 4, "fallback": {"replicas": 2, "afterFailures": 0}"#,
            path: "spec.fallback.afterFailures", message: "must be >= 1 (got 0)"),
        Case(
            spec: #""maxReplicas": 4, "disruptionBudget": {}"#, path: "spec.disruptionBudget",
            message: "set exactly one of maxUnavailable or minAvailable"),
        Case(
            spec: #""maxReplicas": 4, "disruptionBudget": {"minAvailable": "150%"}"#,
            path: "spec.disruptionBudget.minAvailable",
            message: "must be a count or a percentage like \"25%\" (got \"150%\")"),
        Case(
            spec: #""maxReplicas": 4, "startup": {"expectedDuration": "0s"}"#, path: "spec.startup.expectedDuration",
            message: "must be > 0s (got 0s)"),
        Case(
            spec: #""maxReplicas": 4, "prometheus": {"address": "prometheus:9090"}"#, path: "spec.prometheus.address",
            message: "must be an http:// or https:// URL (got \"prometheus:9090\")"),
        Case(
            spec: #""maxReplicas": 4, "prometheus": {"headers": {"Authorization": "Bearer x"}}"#,
            path: "spec.prometheus.headers[Authorization]",
            message: "credentials belong in bearerTokenSecretRef or basicAuth, not in plain headers"),
        Case(
            spec: #""maxReplicas": 4, "prometheus": {"bearerTokenSecretRef": {"name": "token"}}"#,
            path: "spec.prometheus.bearerTokenSecretRef.key", message: "required"),
    ])
    func eachViolationNamesItsField(_ c: Case) throws {
        let violations = PolicyValidator.violations(of: try Self.document(Self.minimal(spec: c.spec)))
        #expect(
            violations.contains { $0.path == c.path && $0.message.hasPrefix(c.message) },
            "got \(violations.map(\.description))")
    }

    @Test func everyViolationIsReportedAtOnce() throws {
        let json = """
            {"apiVersion": "autoscaling.inference.dev/v1", "kind": "InferenceAutoscalePolicy",
             "metadata": {"name": "Bad_Name"},
             "spec": {"targetRef": {"kind": "Deployment"}, "minReplicas": 4, "maxReplicas": 2,
                      "signals": [{"type": "Custom"}, {"type": "QueueDepth", "target": -1}]}}
            """
        let paths = PolicyValidator.violations(of: try Self.document(json)).map(\.path)
        #expect(
            Set(paths) == [
                "apiVersion", "metadata.name", "spec.targetRef.apiVersion", "spec.targetRef.name", "spec.maxReplicas",
                "spec.signals[0].query", "spec.signals[0].target", "spec.signals[1].target",
            ])
    }

    @Test func aMissingSpecIsOneViolation() throws {
        let json =
            #"{"apiVersion": "autoscaling.inference.dev/v1alpha1", "kind": "InferenceAutoscalePolicy", "metadata": {"name": "x"}}"#
        #expect(PolicyValidator.violations(of: try Self.document(json)) == [PolicyViolation("spec", "required")])
    }
}
