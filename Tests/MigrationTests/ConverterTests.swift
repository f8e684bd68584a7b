import Foundation
import KubernetesModel
import PolicyFiles
import Testing

@testable import AutoscalerCore
@testable import Migration

@Suite struct ConverterTests {
    static let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")

    static func convert(_ name: String) throws -> [Conversion] {
        let path = fixtures.appendingPathComponent(name).path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return Converter.convert(try PolicyFiles.documents(text, file: name)).conversions
    }

    static func convertText(_ text: String) throws -> Converter.Result {
        Converter.convert(try PolicyFiles.documents(text, file: "inline"))
    }

    static func reasons(_ conversion: Conversion, _ kind: Conversion.Note.Kind, at path: String) -> [String] {
        conversion.notes(kind).filter { $0.path == path }.map(\.reason)
    }

    @Test(arguments: [
        "queue-depth.yaml", "kv-pressure.yaml", "token-throughput.yaml", "scale-to-zero.yaml", "business-hours.yaml",
        "hpa-queue.yaml", "aws-queue-latency.yaml",
    ])
    func everyPublicExampleConvertsToAValidPolicyThatReadsBackTheSame(_ fixture: String) throws {
        let conversions = try Self.convert(fixture)
        #expect(conversions.count == 1)
        for conversion in conversions {
            let yaml = try conversion.yaml(from: fixture)
            let parsed = try PolicyFiles.parse(yaml, file: fixture)
            #expect(parsed.policies.count == 1)
            #expect(parsed.policies.flatMap(\.violations) == [], "\(yaml)")
            #expect(parsed.policies.first?.policy == conversion.policy, "\(yaml)")
            #expect(yaml.hasPrefix("# Converted from "))
        }
    }

    @Test func aBareQueueSelectorBecomesTheQueuePresetPerReplica() throws {
        let conversion = try #require(try Self.convert("queue-depth.yaml").first)
        let spec = try #require(conversion.policy.spec)
        #expect(spec.engine == "vllm")
        #expect(spec.minReplicas == 1 && spec.maxReplicas == 2)
        #expect(spec.signals == [SignalSpec(type: "QueueDepth", target: .number(5), targetType: "AverageValue")])
        #expect(spec.prometheus?.address == "http://prometheus-operated.monitoring.svc:9090")
        #expect(
            Self.reasons(conversion, .changed, at: "spec.triggers[0].metadata.query").first?.contains(
                "returned multiple elements") == true)
        #expect(Self.reasons(conversion, .dropped, at: "spec.triggers[0].metadata.metricName").count == 1)
        // KEDA's cooldown governs only the step to zero, which min 1 never takes: nothing to carry.
        #expect(spec.scaleToZero == nil)
    }

    @Test func kvPressureKeepsItsBehaviorAndTakesTheTriggerAuthenticationsSecrets() throws {
        let conversion = try #require(try Self.convert("kv-pressure.yaml").first)
        let spec = try #require(conversion.policy.spec)
        #expect(spec.signals?.first?.type == "KVCacheUtilization")
        #expect(spec.signals?.first?.target == .number(0.8))
        #expect(spec.prometheus?.bearerTokenSecretRef == SecretKeySelector(name: "prometheus-token", key: "token"))
        #expect(spec.prometheus?.tls?.caSecretRef == SecretKeySelector(name: "prometheus-ca", key: "ca.crt"))
        #expect(spec.prometheus?.tls?.insecureSkipVerify == nil)
        #expect(spec.behavior?.scaleUp?.policies == [ScalingPolicySpec(type: "Pods", value: 1, period: "3m")])
        #expect(spec.behavior?.scaleDown?.stabilizationWindow == "5m")
        #expect(
            Self.reasons(conversion, .changed, at: "spec.triggers[0].metadata.query").contains {
                $0.contains("or vector(0)")
            })
    }

    @Test func throughputOnGeneratedTokensIsThePresetAndASumOfTwoRatesStaysCustomInItsNamespace() throws {
        let conversion = try #require(try Self.convert("token-throughput.yaml").first)
        let signals = try #require(conversion.policy.spec?.signals)
        #expect(signals.count == 2)
        #expect(signals[0].type == "Custom" && signals[0].targetType == "Value")
        #expect(
            signals[0].query?.contains(#"vllm:prompt_tokens_total{namespace="models", model_name="opt-125m"}"#) == true)
        #expect(
            signals[1]
                == SignalSpec(type: "TokenThroughput", target: .number(400), targetType: "AverageValue", window: "2m"))
        #expect(conversion.notes(.needs).contains { $0.reason.contains("--allow-custom-queries-in") })
        #expect(
            Self.reasons(conversion, .changed, at: "spec.triggers[0].metadata.metricType").first?.contains(
                "AverageValue") == true)
    }

    @Test func scaleToZeroKeepsZeroWhenASignalExistsWhileNoPodRuns() throws {
        let conversion = try #require(try Self.convert("scale-to-zero.yaml").first)
        let spec = try #require(conversion.policy.spec)
        #expect(spec.minReplicas == 0)
        #expect(spec.scaleToZero?.idleFor == "5m")
        #expect(spec.signals?.first?.type == "Custom")
        #expect(spec.signals?.first?.activation == 0.5)
        #expect(spec.signals?.first?.query?.contains("increase(nginx_ingress_controller_requests{") == true)
    }

    @Test func zeroWithOnlyPerPodMetricsIsKeptAtOneAndSaysWhy() throws {
        let result = try Self.convertText(
            """
            apiVersion: keda.sh/v1alpha1
            kind: ScaledObject
            metadata: {name: z, namespace: n}
            spec:
              scaleTargetRef: {name: d}
              triggers:
              - type: prometheus
                metadata: {serverAddress: "http://p:9090", query: "sum(vllm:num_requests_waiting)", threshold: "2", activationThreshold: "1"}
            """)
        let conversion = try #require(result.conversions.first)
        #expect(conversion.policy.spec?.minReplicas == 1)
        #expect(conversion.policy.spec?.maxReplicas == 100)
        #expect(Self.reasons(conversion, .changed, at: "spec.minReplicaCount").first?.contains("kept at 1") == true)
        let yaml = try conversion.yaml()
        #expect(try PolicyFiles.parse(yaml, file: "z").policies.flatMap(\.violations) == [])
    }

    @Test func cronBusinessHoursBecomeAScheduleAndMemoryIsDroppedWithItsReason() throws {
        let conversion = try #require(try Self.convert("business-hours.yaml").first)
        let spec = try #require(conversion.policy.spec)
        #expect(
            spec.schedules == [
                ScheduleSpec(
                    name: "cron-0", timezone: "Europe/Amsterdam", start: "0 8 * * 1-5", end: "0 18 * * 1-5",
                    minReplicas: 4)
            ])
        #expect(spec.signals?.map(\.type) == ["QueueDepth"])
        #expect(Self.reasons(conversion, .dropped, at: "spec.triggers[2]").first?.contains("CPU and memory") == true)
    }

    @Test func theHPAOnTheAdaptersQueueMetricBecomesTheQueuePreset() throws {
        let conversion = try #require(try Self.convert("hpa-queue.yaml").first)
        let spec = try #require(conversion.policy.spec)
        #expect(
            spec.targetRef
                == TargetReference(apiVersion: "apps/v1", kind: "Deployment", name: "vllm-llama3-deployment-vllm"))
        #expect(spec.signals == [SignalSpec(type: "QueueDepth", target: .number(1), targetType: "AverageValue")])
        #expect(conversion.notes(.changed).contains { $0.reason.contains("vllm:num_requests_waiting") })
        #expect(conversion.notes(.changed).contains { $0.path == "spec.metrics[0].object.target" })
    }

    /// The converted signal asks for what KEDA asked for: ceil(sum / threshold) replicas.
    @Test(arguments: [(ready: 3, total: 23.0), (ready: 1, total: 4.0), (ready: 6, total: 61.0)])
    func aSummedQueueAsksForKEDAsReplicaCount(_ fleet: (ready: Int, total: Double)) throws {
        let conversion = try #require(try Self.convert("aws-queue-latency.yaml").first)
        let policy = try PolicyValidator.resolve(conversion.policy).get()
        let queue = try #require(policy.signals.first { $0.type == .queueDepth })
        let keda = Int((fleet.total / 25).rounded(.up))
        // The preset reads the pods' average.
        let ours = ScalingDecider.recommendedReplicas(
            queue, value: fleet.total / Double(fleet.ready), ready: fleet.ready, current: fleet.ready, tolerance: 0,
            upStep: 100)
        #expect(ours == keda)
        // The p95 trigger is no TTFT: it stays the user's query with KEDA's formula, ceil(p95 / 5).
        let latency = try #require(policy.signals.first { $0.type == .custom })
        #expect(latency.targetType == .value)
    }

    @Test func anAverageUnderAverageValueIsCorrectedAndSaysSo() throws {
        let result = try Self.convertText(
            """
            apiVersion: keda.sh/v1alpha1
            kind: ScaledObject
            metadata: {name: kv, namespace: n}
            spec:
              scaleTargetRef: {name: d}
              minReplicaCount: 1
              maxReplicaCount: 8
              triggers:
              - type: prometheus
                metadata: {serverAddress: "http://p:9090", query: "avg(vllm:gpu_cache_usage_perc{model_name=\\"m\\"})", threshold: "0.8"}
            """)
        let conversion = try #require(result.conversions.first)
        #expect(conversion.policy.spec?.signals?.first?.type == "KVCacheUtilization")
        let reasons = Self.reasons(conversion, .changed, at: "spec.triggers[0].metadata.query")
        #expect(reasons.contains { $0.contains("did not grow with the fleet") })
        #expect(reasons.contains { $0.contains("vllm:kv_cache_usage_perc") })
        #expect(reasons.contains { $0.contains(#"model_name="m""#) })
    }

    @Test func scalingModifiersBecomeOneCustomSignalOverTheTriggersQueries() throws {
        let result = try Self.convertText(
            """
            apiVersion: keda.sh/v1alpha1
            kind: ScaledObject
            metadata: {name: c, namespace: n}
            spec:
              scaleTargetRef: {name: d}
              minReplicaCount: 1
              advanced:
                scalingModifiers: {formula: "(queue + running) / 2", target: "4"}
              triggers:
              - type: prometheus
                name: queue
                metadata: {serverAddress: "http://p:9090", query: "sum(vllm:num_requests_waiting)", threshold: "2"}
              - type: prometheus
                name: running
                metadata: {serverAddress: "http://p:9090", query: "sum(vllm:num_requests_running)", threshold: "8"}
            """)
        let signals = try #require(result.conversions.first?.policy.spec?.signals)
        #expect(signals.count == 1)
        #expect(
            signals.first?.query
                == #"((sum(vllm:num_requests_waiting{namespace="n"})) + (sum(vllm:num_requests_running{namespace="n"}))) / 2"#
        )
        #expect(signals.first?.targetType == "Value")
        #expect(signals.first?.target == .number(4))
    }

    @Test func hpasMadeByKEDAOrOfAnOlderVersionAreSkippedAndResourceMetricsDropped() throws {
        let result = try Self.convertText(
            """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: autoscaling/v2
              kind: HorizontalPodAutoscaler
              metadata:
                name: keda-hpa-x
                namespace: n
                ownerReferences: [{apiVersion: keda.sh/v1alpha1, kind: ScaledObject, name: x, uid: u}]
              spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: d}, maxReplicas: 3}
            - apiVersion: autoscaling/v1
              kind: HorizontalPodAutoscaler
              metadata: {name: old, namespace: n}
              spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: d}, maxReplicas: 3}
            - apiVersion: autoscaling/v2
              kind: HorizontalPodAutoscaler
              metadata: {name: gke, namespace: n}
              spec:
                scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: d}
                maxReplicas: 4
                metrics:
                - type: Resource
                  resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
                - type: Pods
                  pods:
                    metric: {name: "prometheus.googleapis.com|vllm:num_requests_running|gauge"}
                    target: {type: AverageValue, averageValue: "4"}
            """)
        #expect(
            result.skipped.map(\.source) == ["HorizontalPodAutoscaler n/keda-hpa-x", "HorizontalPodAutoscaler n/old"])
        let conversion = try #require(result.conversions.first)
        #expect(conversion.policy.spec?.minReplicas == 1)
        #expect(
            conversion.policy.spec?.signals == [
                SignalSpec(type: "RunningRequests", target: .number(4), targetType: "AverageValue")
            ])
        #expect(Self.reasons(conversion, .dropped, at: "spec.metrics[0]").count == 1)
    }

    @Test(arguments: [
        (
            "sum(vllm:num_requests_waiting{namespace=\"a\"}) or vector(0)", SignalType.queueDepth,
            QueryRecognizer.Aggregation.sum
        ),
        ("(avg(sglang:token_usage))", .kvCacheUtilization, .avg),
        ("tgi_queue_size", .queueDepth, .none),
        (
            "histogram_quantile(0.9, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket[5m])))",
            .timeToFirstToken, .sum
        ),
        ("sum(rate(tgi_request_generated_tokens_sum[1m]))", .tokenThroughput, .sum),
    ])
    func theEnginesQueriesAreRecognized(_ query: String, _ type: SignalType, _ aggregation: QueryRecognizer.Aggregation)
    {
        let found = QueryRecognizer.recognize(query)
        #expect(found?.type == type)
        #expect(found?.aggregation == aggregation)
    }

    @Test(arguments: [
        "sum(vllm:num_requests_waiting) / count(kube_deployment_status_replicas_ready)",
        "sum(rate(vllm:num_requests_waiting[1m]))",
        "max_over_time(vllm:num_requests_waiting[5m])",
        "sum(my_app_queue)",
    ])
    func anythingElseIsNotRecognized(_ query: String) {
        #expect(QueryRecognizer.recognize(query) == nil)
    }
}
