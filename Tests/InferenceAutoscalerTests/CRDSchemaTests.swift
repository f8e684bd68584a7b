// `BasicAuthSpec` and `PrometheusTLSSpec` have no public initializer, so the fully populated fixture needs @testable.
import Foundation
import KubernetesModel
import PolicyFiles
import Testing

/// The CRD in `crds/` and the Swift API types are kept in step by hand; these tests catch the drift. They also check
/// that every shipped sample passes the CRD's OpenAPI schema as the API server would apply it (structural checks
/// only: the CEL rules need a real API server).
@Suite struct CRDSchemaTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let crdFile = packageRoot.appendingPathComponent(
        "crds/autoscaling.inference.dev_inferenceautoscalepolicies.yaml")
    static let samplesDirectory = packageRoot.appendingPathComponent("config/samples")

    static var sampleFiles: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: samplesDirectory.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json") }.sorted()
    }

    /// `validate` checks against the schema compiled into the binary: it must be the CRD that ships.
    @Test func theEmbeddedSchemaIsTheShippedCRD() throws {
        let file = try String(contentsOf: Self.crdFile, encoding: .utf8)
        let normalized = file.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.allSatisfy(\.isWhitespace) ? "" : String($0) }.joined(separator: "\n")
        #expect(ShippedSchema.crdText + "\n" == normalized, "crds/ changed: run make crd-embed")
        #expect(ShippedSchema.root != nil)
    }

    // MARK: - The CRD and the Swift types agree

    @Test func everyFieldOfTheSwiftTypesIsInTheSchemaAndBack() throws {
        let schema = try CRD.load(Self.crdFile).schema
        let policy = Self.fullyPopulatedPolicy()
        let swiftPaths = JSONFieldPaths.collect(try Self.json(of: policy), stoppingAt: schema.opaquePaths)
        let schemaPaths = Set(schema.nodes.keys)

        let onlyInSwift = swiftPaths.subtracting(schemaPaths).sorted()
        let onlyInSchema = schemaPaths.subtracting(swiftPaths).sorted()
        #expect(onlyInSwift.isEmpty, "encoded by the Swift types but not in the CRD schema: \(onlyInSwift)")
        #expect(onlyInSchema.isEmpty, "in the CRD schema but not encoded by the Swift types: \(onlyInSchema)")
    }

    /// Guards the test above: the comparison walks deep, stops at maps, and sees a field that one side lacks.
    @Test func theComparisonIsNotVacuous() throws {
        let schema = try CRD.load(Self.crdFile).schema
        let json = try Self.json(of: Self.fullyPopulatedPolicy())
        let paths = JSONFieldPaths.collect(json, stoppingAt: schema.opaquePaths)
        for deep in [
            "spec.behavior.scaleUp.policies[].period", "spec.prometheus.tls.caSecretRef.key",
            "status.history.recommendations[].time", "status.conditions[].lastTransitionTime",
        ] {
            #expect(paths.contains(deep) && schema.nodes[deep] != nil, "\(deep)")
        }
        #expect(paths.contains("spec.prometheus.headers") && !paths.contains("spec.prometheus.headers.X-Scope-OrgID"))
        #expect(!paths.contains { $0.hasPrefix("metadata.") })

        guard case .object(var root) = json, case .object(var status)? = root["status"] else {
            Issue.record("the policy does not encode as an object with a status")
            return
        }
        status["limitedBy"] = nil
        root["status"] = .object(status)
        let fewer = JSONFieldPaths.collect(.object(root), stoppingAt: schema.opaquePaths)
        #expect(Set(schema.nodes.keys).subtracting(fewer) == ["status.limitedBy"])
    }

    /// Guards the test above: a member left nil (or a list left empty) in the fixture would hide its fields.
    @Test func theFixtureSetsEveryOptionalMember() {
        let policy = Self.fullyPopulatedPolicy()
        let unset =
            UnsetMembers.find(in: policy.spec as Any, at: "spec")
            + UnsetMembers.find(in: policy.status as Any, at: "status")
        #expect(unset.isEmpty, "members the fixture leaves nil or empty: \(unset)")

        let sparse = UnsetMembers.find(
            in: PolicySpec(maxReplicas: 1, signals: [SignalSpec(type: "QueueDepth")]), at: "spec")
        #expect(sparse.contains("spec.targetRef") && sparse.contains("spec.signals[].target"), "\(sparse)")
        #expect(!sparse.contains("spec.maxReplicas"))
    }

    /// The JSON types agree too: what the Swift types encode passes the schema.
    @Test func theFullyPopulatedPolicyValidates() throws {
        let schema = try CRD.load(Self.crdFile).schema
        let errors = SchemaValidator.errors(in: try Self.json(of: Self.fullyPopulatedPolicy()), against: schema.root)
        #expect(errors.isEmpty, "\(errors)")
    }

    @Test func everyFieldHasADescription() throws {
        let schema = try CRD.load(Self.crdFile).schema
        // At the root, metadata may only be `type: object` (the API server refuses more); kubectl explain shows
        // ObjectMeta's own documentation there.
        let undocumented = schema.describedNodes.filter { path, node in
            path != "metadata" && (node.description ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        }.map(\.path).sorted()
        #expect(undocumented.isEmpty, "fields without a description: \(undocumented)")
        #expect(!(schema.root.description ?? "").isEmpty, "the root of the schema has no description")
    }

    @Test func printerColumnsShowTheDecision() throws {
        let crd = try CRD.load(Self.crdFile)
        #expect(
            crd.printerColumns.map(\.name) == [
                "Target", "Min", "Max", "Replicas", "Desired", "Mode", "Limited-By", "Ready", "Age",
            ])
        for column in crd.printerColumns {
            let path = CRD.fieldPath(ofJSONPath: column.jsonPath)
            if path.hasPrefix("metadata.") {
                // ObjectMeta is not part of the CRD's schema.
                #expect(path == "metadata.creationTimestamp", "column \(column.name): \(column.jsonPath)")
                #expect(column.type == "date")
                continue
            }
            guard let node = crd.schema.nodes[path] else {
                Issue.record("column \(column.name): \(column.jsonPath) (\(path)) is not in the schema")
                continue
            }
            let expected = column.type == "date" ? "string" : column.type
            #expect(
                node.type == expected,
                "column \(column.name) is \(column.type), field \(path) is \(node.type ?? "untyped")")
        }
    }

    // MARK: - The samples validate

    @Test func thereAreSamples() {
        #expect(Self.sampleFiles.count >= 7, "\(Self.sampleFiles)")
    }

    @Test(arguments: sampleFiles)
    func sampleValidatesAgainstTheSchema(file: String) throws {
        let schema = try CRD.load(Self.crdFile).schema
        let contents = try PolicyFiles.load(Self.samplesDirectory.appendingPathComponent(file).path)
        #expect(!contents.policies.isEmpty, "\(file) holds no policy")
        for document in contents.policies {
            let errors = SchemaValidator.errors(in: document.json, against: schema.root)
            #expect(errors.isEmpty, "\(file) #\(document.index + 1): \(errors)")
            // And the controller's own rules, including the cross-field ones the CRD leaves to CEL.
            #expect(document.violations.isEmpty, "\(file) #\(document.index + 1): \(document.violations)")
        }
    }

    // MARK: - The validator is not a no-op

    static let minimalSpec = """
        targetRef: {apiVersion: apps/v1, kind: Deployment, name: vllm-llama3}
        maxReplicas: 4
        """

    @Test func aMinimalPolicyValidates() throws {
        let errors = try Self.schemaErrors(spec: Self.minimalSpec)
        #expect(errors.isEmpty, "\(errors)")
    }

    /// Each case: a spec (YAML) and the field path the error must name.
    @Test(arguments: [
        ("unknown engine", "engine: llamacpp", "spec.engine"),
        ("negative minReplicas", "minReplicas: -1", "spec.minReplicas"),
        ("fractional minReplicas", "minReplicas: 1.5", "spec.minReplicas"),
        ("fallback replicas as a string", "fallback: {replicas: \"3\"}", "spec.fallback.replicas"),
        ("duration without a unit", "pollingInterval: \"15\"", "spec.pollingInterval"),
        ("duration in words", "pollingInterval: 15 seconds", "spec.pollingInterval"),
        ("unknown field", "maxReplica: 4", "spec.maxReplica"),
        ("unknown signal type", "signals: [{type: QueueLength, target: 5}]", "spec.signals[0].type"),
        ("signal without a type", "signals: [{target: 5}]", "spec.signals[0].type"),
        ("zero target", "signals: [{type: QueueDepth, target: 0}]", "spec.signals[0].target"),
        ("target neither number nor duration", "signals: [{type: QueueDepth, target: lots}]", "spec.signals[0].target"),
        ("quantile of 1", "signals: [{type: TimeToFirstToken, target: 1s, quantile: 1}]", "spec.signals[0].quantile"),
        ("empty signal list", "signals: []", "spec.signals"),
        (
            "pool that is no object name", "signals: [{type: GatewaySaturation, pool: Llama_Pool}]",
            "spec.signals[0].pool"
        ),
        ("percentage over 100", "disruptionBudget: {maxUnavailable: \"150%\"}", "spec.disruptionBudget.maxUnavailable"),
        ("negative count", "disruptionBudget: {minAvailable: -1}", "spec.disruptionBudget.minAvailable"),
        ("boolean for int-or-string", "disruptionBudget: {minAvailable: true}", "spec.disruptionBudget.minAvailable"),
        ("header value a number", "prometheus: {headers: {X-Scope-OrgID: 7}}", "spec.prometheus.headers.X-Scope-OrgID"),
        ("address without a scheme", "prometheus: {address: prometheus:9090}", "spec.prometheus.address"),
        (
            "rate policy of 0", "behavior: {scaleUp: {policies: [{type: Pods, value: 0, period: 15s}]}}",
            "spec.behavior.scaleUp.policies[0].value"
        ),
        (
            "rate policy without a period", "behavior: {scaleDown: {policies: [{type: Pods, value: 1}]}}",
            "spec.behavior.scaleDown.policies[0].period"
        ),
        ("tolerance of 1", "behavior: {tolerance: 1}", "spec.behavior.tolerance"),
        (
            "cron with four fields", "schedules: [{name: a, start: '0 8 * *', end: '0 20 * * *', minReplicas: 2}]",
            "spec.schedules[0].start"
        ),
        (
            "duplicate schedule names",
            "schedules:\n- {name: a, start: '@daily', end: '@daily', minReplicas: 1}\n"
                + "- {name: a, start: '@hourly', end: '@daily', minReplicas: 2}",
            "spec.schedules[1]"
        ),
        ("paused as a string", "paused: \"yes\"", "spec.paused"),
        ("null where an object belongs", "startup: null", "spec.startup"),
    ])
    func anInvalidSpecIsRejected(name: String, change: String, path: String) throws {
        let errors = try Self.schemaErrors(spec: Self.minimalSpec + "\n" + change)
        #expect(errors.contains { $0.path == path }, "\(name): expected an error at \(path), got \(errors)")
    }

    @Test func aMissingRequiredFieldIsRejected() throws {
        let errors = try Self.schemaErrors(spec: "targetRef: {apiVersion: apps/v1, kind: Deployment, name: x}")
        #expect(errors.contains(.init(path: "spec.maxReplicas", problem: "required")), "\(errors)")
        let noName = try Self.schemaErrors(spec: "targetRef: {apiVersion: apps/v1, kind: Deployment}\nmaxReplicas: 2")
        #expect(noName.contains(.init(path: "spec.targetRef.name", problem: "required")), "\(noName)")
    }

    @Test func anInvalidStatusIsRejected() throws {
        var policy = Self.fullyPopulatedPolicy()
        policy.status?.lastScaleTime = "yesterday"
        policy.status?.history?.consecutiveFailures = -1
        let schema = try CRD.load(Self.crdFile).schema
        let errors = SchemaValidator.errors(in: try Self.json(of: policy), against: schema.root).map(\.path)
        #expect(errors.contains("status.lastScaleTime"), "\(errors)")
        #expect(errors.contains("status.history.consecutiveFailures"), "\(errors)")
    }

    static func schemaErrors(spec: String) throws -> [SchemaValidator.Failure] {
        let indented = spec.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }
            .joined(separator: "\n")
        let text = """
            apiVersion: autoscaling.inference.dev/v1alpha1
            kind: InferenceAutoscalePolicy
            metadata: {name: test, namespace: inference}
            spec:
            \(indented)
            """
        let contents = try PolicyFiles.parse(text, file: "test.yaml")
        let document = try #require(contents.policies.first)
        return SchemaValidator.errors(in: document.json, against: try CRD.load(crdFile).schema.root)
    }

    // MARK: - The fixture

    static func json(of policy: InferenceAutoscalePolicy) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(policy))
    }

    /// Every optional member set, every nested struct populated, every list with one element. Values pass the schema's
    /// per-field checks; the cross-field (CEL) rules are not the point here (bearer token and basic auth together).
    static func fullyPopulatedPolicy() -> InferenceAutoscalePolicy {
        let secret = SecretKeySelector(name: "prometheus-auth", key: "token")
        let spec = PolicySpec(
            targetRef: TargetReference(apiVersion: "apps/v1", kind: "Deployment", name: "vllm-llama3"),
            minReplicas: 1, maxReplicas: 8, pollingInterval: "15s", engine: "vllm",
            prometheus: PrometheusSpec(
                address: "https://prometheus.monitoring:9090", timeout: "5s", bearerTokenSecretRef: secret,
                basicAuth: BasicAuthSpec(usernameSecretRef: secret, passwordSecretRef: secret),
                tls: PrometheusTLSSpec(
                    caSecretRef: secret, certSecretRef: secret, keySecretRef: secret, insecureSkipVerify: false),
                headers: ["X-Scope-OrgID": "team-a"]),
            objective: ObjectiveSpec(
                timeToFirstToken: LatencyObjectiveSpec(percentile: 99, target: "2s"),
                interTokenLatency: LatencyObjectiveSpec(percentile: 99, target: "100ms"), headroomPercent: 10),
            signals: [
                SignalSpec(
                    type: "TimeToFirstToken", target: .string("500ms"), targetType: "AverageValue", activation: 0,
                    quantile: 0.95, query: "sum(x)", window: "1m", pool: "llama-pool")
            ],
            schedules: [
                ScheduleSpec(
                    name: "business-hours", timezone: "Europe/Amsterdam", start: "30 7 * * 1-5", end: "0 20 * * 1-5",
                    minReplicas: 3)
            ],
            behavior: BehaviorSpec(
                tolerance: 0.1,
                scaleUp: ScalingRulesSpec(
                    stabilizationWindow: "0s", policies: [ScalingPolicySpec(type: "Pods", value: 4, period: "15s")],
                    selectPolicy: "Max"),
                scaleDown: ScalingRulesSpec(
                    stabilizationWindow: "5m", policies: [ScalingPolicySpec(type: "Percent", value: 50, period: "2m")],
                    selectPolicy: "Min")),
            scaleToZero: ScaleToZeroSpec(idleFor: "10m"),
            startup: StartupSpec(expectedDuration: "90s"),
            fallback: FallbackSpec(replicas: 3, afterFailures: 3),
            disruptionBudget: DisruptionBudgetSpec(maxUnavailable: .int(1), minAvailable: .string("50%")),
            paused: false, mode: "Shadow")
        let time = Date(timeIntervalSince1970: 1_795_000_000)
        let status = PolicyStatus(
            observedGeneration: 3, currentReplicas: 4, readyReplicas: 3, desiredReplicas: 5,
            lastScaleTime: Timestamp.format(time), limitedBy: "QueueDepth",
            signals: [
                SignalStatus(
                    type: "QueueDepth", name: "QueueDepth", value: 21, target: 5, recommendation: 5,
                    error: "no series")
            ],
            conditions: [
                PolicyCondition(
                    type: "Ready", status: .true, reason: "Applied", message: "scaling on 1 signal",
                    lastTransitionTime: Timestamp.format(time), observedGeneration: 3)
            ],
            objective: ObjectiveStatus(
                capacityPerReplica: 17.2, tokensPerSecondPerReplica: 23_400, capacitySource: "Learned",
                leadTimeSeconds: 105, demand: 131, forecast: 148, forecastMethod: "Trend", attainmentPercent: 99.42,
                extraHeadroomPercent: 15),
            history: DecisionHistory(
                recommendations: [.init(time: time, replicas: 5)], scaleEvents: [.init(time: time, change: 1)],
                consecutiveFailures: 0, idleSince: time, learnedStartupSeconds: 85.5,
                planner: .init(
                    capacity: 3.4, calmCeiling: 3.1, saturatedLoad: 3.9, observations: 12, promptTokens: 1150,
                    generatedTokens: 210, rates: [.init(time: time, value: 131)],
                    daily: [.init(time: time, value: 120)],
                    recentRequests: 9.1e6, recentMisses: 5.3e4, extraHeadroom: 0.15)),
            shadow: ShadowStatus(
                since: Timestamp.format(time), observedSeconds: 3600, replicaSeconds: 12_000,
                liveReplicaSeconds: 18_000,
                belowLiveSeconds: 30, lastObserved: Timestamp.format(time), generation: 3))
        return InferenceAutoscalePolicy(
            metadata: ObjectMeta(name: "llama3-8b", namespace: "inference"), spec: spec, status: status)
    }
}

// MARK: - Reading the CRD

/// The parts of the CustomResourceDefinition these tests look at.
struct CRD {
    struct PrinterColumn {
        var name: String
        var type: String
        var jsonPath: String
    }

    var schema: SchemaTree
    var printerColumns: [PrinterColumn]

    static func load(_ file: URL) throws -> CRD {
        let text = try String(contentsOf: file, encoding: .utf8)
        guard let document = try PolicyFiles.documents(text, file: file.path).first else {
            throw CRDError("\(file.path) is empty")
        }
        guard case .array(let versions)? = document["spec"]?["versions"], versions.count == 1,
            let version = versions.first, let root = version["schema"]?["openAPIV3Schema"]
        else { throw CRDError("expected one version with an openAPIV3Schema") }
        var columns: [PrinterColumn] = []
        if case .array(let items)? = version["additionalPrinterColumns"] {
            for item in items {
                guard case .string(let name)? = item["name"], case .string(let type)? = item["type"],
                    case .string(let jsonPath)? = item["jsonPath"]
                else { throw CRDError("a printer column lacks name, type or jsonPath") }
                columns.append(PrinterColumn(name: name, type: type, jsonPath: jsonPath))
            }
        }
        return CRD(schema: SchemaTree(root: try SchemaNode(root)), printerColumns: columns)
    }

    /// `.status.conditions[?(@.type=="Ready")].status` → `status.conditions[].status`.
    static func fieldPath(ofJSONPath jsonPath: String) -> String {
        var path = jsonPath
        while let open = path.range(of: "[?("),
            let close = path.range(of: ")]", range: open.upperBound..<path.endIndex)
        {
            path.replaceSubrange(open.lowerBound..<close.upperBound, with: "[]")
        }
        path = path.replacingOccurrences(of: "[*]", with: "[]")
        return path.hasPrefix(".") ? String(path.dropFirst()) : path
    }
}

struct CRDError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The schema's field paths (`spec.behavior.scaleUp.policies[].period`), descending properties and items and
/// stopping at maps and preserved values.
struct SchemaTree {
    let root: SchemaNode
    /// Every property, by path.
    let nodes: [String: SchemaNode]
    /// Every property plus array items (`spec.signals[]`) and map values (`spec.prometheus.headers{}`): what
    /// `kubectl explain` can show.
    let describedNodes: [(path: String, node: SchemaNode)]

    init(root: SchemaNode) {
        self.root = root
        var nodes: [String: SchemaNode] = [:]
        var described: [(String, SchemaNode)] = []
        func visit(_ node: SchemaNode, _ path: String) {
            if node.isOpaque {
                if let values = node.additionalProperties { described.append((path + "{}", values)) }
                return
            }
            for (name, child) in node.properties {
                let childPath = path.isEmpty ? name : "\(path).\(name)"
                nodes[childPath] = child
                described.append((childPath, child))
                visit(child, childPath)
            }
            if let items = node.items {
                described.append((path + "[]", items))
                visit(items, path + "[]")
            }
        }
        visit(root, "")
        self.nodes = nodes
        self.describedNodes = described
    }

    /// Paths whose members are not schema fields: maps, preserved values, and the root's metadata (ObjectMeta).
    var opaquePaths: Set<String> {
        Set(nodes.filter { $0.value.isOpaque }.keys).union(["metadata"])
    }
}

/// The field paths of a JSON document, in the same notation as `SchemaTree`.
enum JSONFieldPaths {
    static func collect(_ value: JSONValue, stoppingAt opaque: Set<String>) -> Set<String> {
        var paths: Set<String> = []
        func visit(_ value: JSONValue, _ path: String) {
            switch value {
            case .object(let members):
                for (name, member) in members {
                    let memberPath = path.isEmpty ? name : "\(path).\(name)"
                    paths.insert(memberPath)
                    if !opaque.contains(memberPath) { visit(member, memberPath) }
                }
            case .array(let items):
                for item in items { visit(item, path + "[]") }
            default:
                break
            }
        }
        visit(value, "")
        return paths
    }
}

/// Finds optional members left nil, and lists or maps left empty, by reflection.
enum UnsetMembers {
    static func find(in value: Any, at path: String) -> [String] {
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional:
            guard let wrapped = mirror.children.first else { return [path] }
            return find(in: wrapped.value, at: path)
        case .collection, .set:
            if mirror.children.isEmpty { return [path] }
            return mirror.children.flatMap { find(in: $0.value, at: path + "[]") }
        case .dictionary:
            return mirror.children.isEmpty ? [path] : []
        case .struct, .class, .enum:
            return mirror.children.flatMap { child -> [String] in
                // Property wrappers (`@RFC3339 var time`) show up as `_time`.
                let label = (child.label ?? "").hasPrefix("_") ? String(child.label!.dropFirst()) : (child.label ?? "")
                return find(in: child.value, at: mirror.displayStyle == .enum ? path : "\(path).\(label)")
            }
        default:
            return []
        }
    }
}
