/// One kind of object the test API server stores and serves, described the way API discovery describes it.
///
/// The flags mirror the per-type "strategies" of the real API server (`pkg/registry/...`): which subresources
/// exist, whether `metadata.generation` is tracked, whether PUT may create or may skip the resourceVersion check.
public struct ResourceType: Sendable, Hashable {
    /// The `/scale` subresource of a workload: where its replica counts and pod selector live.
    public struct ScaleSubresource: Sendable, Hashable {
        /// Dotted path of the desired replica count, `spec.replicas` for apps/v1 workloads.
        public var specReplicasPath: String
        /// Dotted path of the observed replica count, `status.replicas`; 0 when absent.
        public var statusReplicasPath: String
        /// Dotted path of the pod selector: a `LabelSelector` object (apps/v1: `spec.selector`) or an already
        /// serialized selector string (custom resources usually point at `status.selector`). Nil: no selector.
        public var labelSelectorPath: String?
        /// The replica count the API server's defaulting fills in when the spec omits it (1 for apps/v1 workloads;
        /// nil for custom resources, whose defaults come from their schema).
        public var defaultReplicas: Int?

        /// Creates a scale description; the defaults are those of apps/v1 Deployments and StatefulSets.
        public init(
            specReplicasPath: String = "spec.replicas",
            statusReplicasPath: String = "status.replicas",
            labelSelectorPath: String? = "spec.selector",
            defaultReplicas: Int? = 1
        ) {
            self.specReplicasPath = specReplicasPath
            self.statusReplicasPath = statusReplicasPath
            self.labelSelectorPath = labelSelectorPath
            self.defaultReplicas = defaultReplicas
        }
    }

    /// API group; empty for the core group (`/api/v1`).
    public var group: String
    /// API version within the group, `v1`.
    public var version: String
    /// Plural resource name used in paths, `deployments`.
    public var resource: String
    /// Kind of the objects, `Deployment`.
    public var kind: String
    /// Whether objects live in namespaces.
    public var namespaced: Bool
    /// Whether a `/status` subresource exists. Then writes to the main resource ignore `status` and writes to
    /// `/status` change only `status`; `status` is dropped on create.
    public var hasStatus: Bool
    /// The `/scale` subresource, if any.
    public var scale: ScaleSubresource?
    /// Whether the type is served from a CustomResourceDefinition. Custom resources differ from built-in types on
    /// the wire: list items carry `kind`/`apiVersion`, and generation counts every change outside metadata (and
    /// status, when the status subresource is enabled).
    public var isCustomResource: Bool
    /// Whether `metadata.generation` is maintained (1 on create, +1 on each spec change). Types without a spec
    /// (ConfigMap, Secret, Event, Lease, Namespace) have no generation.
    public var tracksGeneration: Bool
    /// Whether a change of `metadata.annotations` also bumps generation (true for Deployments, whose
    /// annotations are copied to their ReplicaSets).
    public var annotationsBumpGeneration: Bool
    /// Whether PUT of a missing object creates it (true for Leases and core Events).
    public var allowCreateOnUpdate: Bool
    /// Whether PUT without `metadata.resourceVersion` is accepted unconditionally. When false such a PUT gets
    /// 422 Invalid (`metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`), as for
    /// Leases and custom resources.
    public var allowUnconditionalUpdate: Bool
    /// Field selector keys beyond `metadata.name` and `metadata.namespace` (for Pods: `status.phase`,
    /// `spec.nodeName`, ...). Any other key gets 400 BadRequest.
    public var selectableFields: [String]
    /// Short names listed in discovery (`deploy`).
    public var shortNames: [String]
    /// The columns `kubectl get` shows (a CRD's `additionalPrinterColumns`); empty: Name and Age.
    public var printerColumns: [PrinterColumn] = []

    /// Describes a resource type. `tracksGeneration` defaults to true, the other behaviour flags to the
    /// behaviour of most built-in types (or of custom resources when `isCustomResource`).
    public init(
        group: String,
        version: String,
        resource: String,
        kind: String,
        namespaced: Bool = true,
        hasStatus: Bool = false,
        scale: ScaleSubresource? = nil,
        isCustomResource: Bool = false,
        tracksGeneration: Bool = true,
        annotationsBumpGeneration: Bool = false,
        allowCreateOnUpdate: Bool = false,
        allowUnconditionalUpdate: Bool? = nil,
        selectableFields: [String] = [],
        shortNames: [String] = []
    ) {
        self.group = group
        self.version = version
        self.resource = resource
        self.kind = kind
        self.namespaced = namespaced
        self.hasStatus = hasStatus
        self.scale = scale
        self.isCustomResource = isCustomResource
        self.tracksGeneration = tracksGeneration
        self.annotationsBumpGeneration = annotationsBumpGeneration
        self.allowCreateOnUpdate = allowCreateOnUpdate
        self.allowUnconditionalUpdate = allowUnconditionalUpdate ?? !isCustomResource
        self.selectableFields = selectableFields
        self.shortNames = shortNames
    }

    /// A custom resource served from a CRD with the given subresources.
    public static func customResource(
        group: String,
        version: String,
        resource: String,
        kind: String,
        namespaced: Bool = true,
        hasStatus: Bool = true,
        scale: ScaleSubresource? = nil,
        shortNames: [String] = []
    ) -> ResourceType {
        ResourceType(
            group: group,
            version: version,
            resource: resource,
            kind: kind,
            namespaced: namespaced,
            hasStatus: hasStatus,
            scale: scale,
            isCustomResource: true,
            shortNames: shortNames
        )
    }

    /// `apps/v1`, or `v1` for the core group.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// The URL prefix of the group version: `/api/v1` or `/apis/apps/v1`.
    public var pathPrefix: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }

    /// `deployments.apps`, or `pods` for the core group: how the API server names the resource in messages.
    var qualifiedResource: String { group.isEmpty ? resource : "\(resource).\(group)" }

    /// `Deployment.apps`, or `Pod`: how the API server names the kind in Invalid messages.
    var qualifiedKind: String { group.isEmpty ? kind : "\(kind).\(group)" }

    /// The identity used for storage: one stored version per group and resource.
    var storageKey: String { "\(group)/\(resource)" }

    /// The collection path in a namespace (or at cluster scope for cluster-scoped types).
    public func collectionPath(namespace: String?) -> String {
        if namespaced, let namespace { return "\(pathPrefix)/namespaces/\(namespace)/\(resource)" }
        return "\(pathPrefix)/\(resource)"
    }

    /// The path of one object.
    public func objectPath(namespace: String?, name: String) -> String {
        "\(collectionPath(namespace: namespace))/\(name)"
    }
}

extension ResourceType {
    /// core/v1 Pods. (The real server prints Ready and Restarts, computed from container statuses, and a Status
    /// that may be a reason; here the columns are the phase, IP and node.)
    public static let pods: ResourceType = {
        var type = ResourceType(
            group: "",
            version: "v1",
            resource: "pods",
            kind: "Pod",
            hasStatus: true,
            selectableFields: [
                "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName",
            ],
            shortNames: ["po"]
        )
        type.printerColumns = [
            PrinterColumn(name: "Status", type: "string", jsonPath: ".status.phase"),
            PrinterColumn(name: "IP", type: "string", jsonPath: ".status.podIP"),
            PrinterColumn(name: "Node", type: "string", jsonPath: ".spec.nodeName"),
            PrinterColumn(name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp"),
        ]
        return type
    }()
    /// core/v1 Namespaces (cluster-scoped).
    public static let namespaces = ResourceType(
        group: "",
        version: "v1",
        resource: "namespaces",
        kind: "Namespace",
        namespaced: false,
        hasStatus: true,
        tracksGeneration: false,
        selectableFields: ["status.phase"],
        shortNames: ["ns"]
    )
    /// core/v1 Events.
    public static let coreEvents: ResourceType = {
        var type = ResourceType(
            group: "",
            version: "v1",
            resource: "events",
            kind: "Event",
            tracksGeneration: false,
            allowCreateOnUpdate: true,
            selectableFields: [
                "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
                "reportingComponent", "source", "type",
            ],
            shortNames: ["ev"]
        )
        type.printerColumns = [
            PrinterColumn(name: "Type", type: "string", jsonPath: ".type"),
            PrinterColumn(name: "Reason", type: "string", jsonPath: ".reason"),
            PrinterColumn(name: "Object", type: "string", jsonPath: ".involvedObject.name"),
            PrinterColumn(name: "Message", type: "string", jsonPath: ".message"),
            PrinterColumn(name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp"),
        ]
        return type
    }()
    /// core/v1 Secrets.
    public static let secrets = ResourceType(
        group: "",
        version: "v1",
        resource: "secrets",
        kind: "Secret",
        tracksGeneration: false,
        selectableFields: ["type"]
    )
    /// core/v1 ResourceQuotas, with `/status` (where the quota controller writes `hard` and `used`).
    public static let resourceQuotas = ResourceType(
        group: "",
        version: "v1",
        resource: "resourcequotas",
        kind: "ResourceQuota",
        hasStatus: true,
        tracksGeneration: false,
        shortNames: ["quota"]
    )
    /// core/v1 ConfigMaps.
    public static let configMaps = ResourceType(
        group: "",
        version: "v1",
        resource: "configmaps",
        kind: "ConfigMap",
        tracksGeneration: false,
        shortNames: ["cm"]
    )
    /// apps/v1 Deployments, with `/status` and `/scale`. (The real server's Ready column reads `ready/desired`; here
    /// printer columns are JSON paths, so desired and ready are two columns.)
    public static let deployments: ResourceType = {
        var type = ResourceType(
            group: "apps",
            version: "v1",
            resource: "deployments",
            kind: "Deployment",
            hasStatus: true,
            scale: ScaleSubresource(),
            annotationsBumpGeneration: true,
            shortNames: ["deploy"]
        )
        type.printerColumns = [
            PrinterColumn(name: "Replicas", type: "integer", jsonPath: ".spec.replicas"),
            PrinterColumn(name: "Ready", type: "integer", jsonPath: ".status.readyReplicas"),
            PrinterColumn(name: "Up-to-date", type: "integer", jsonPath: ".status.updatedReplicas"),
            PrinterColumn(name: "Available", type: "integer", jsonPath: ".status.availableReplicas"),
            PrinterColumn(name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp"),
        ]
        return type
    }()
    /// apps/v1 StatefulSets, with `/status` and `/scale`.
    public static let statefulSets = ResourceType(
        group: "apps",
        version: "v1",
        resource: "statefulsets",
        kind: "StatefulSet",
        hasStatus: true,
        scale: ScaleSubresource(),
        shortNames: ["sts"]
    )
    /// policy/v1 PodDisruptionBudgets, with `/status`.
    public static let podDisruptionBudgets: ResourceType = {
        var type = ResourceType(
            group: "policy",
            version: "v1",
            resource: "poddisruptionbudgets",
            kind: "PodDisruptionBudget",
            hasStatus: true,
            shortNames: ["pdb"]
        )
        type.printerColumns = [
            PrinterColumn(name: "Min Available", type: "string", jsonPath: ".spec.minAvailable"),
            PrinterColumn(name: "Max Unavailable", type: "string", jsonPath: ".spec.maxUnavailable"),
            PrinterColumn(name: "Allowed Disruptions", type: "integer", jsonPath: ".status.disruptionsAllowed"),
            PrinterColumn(name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp"),
        ]
        return type
    }()
    /// coordination.k8s.io/v1 Leases (PUT may create; PUT needs a resourceVersion).
    public static let leases = ResourceType(
        group: "coordination.k8s.io",
        version: "v1",
        resource: "leases",
        kind: "Lease",
        tracksGeneration: false,
        allowCreateOnUpdate: true,
        allowUnconditionalUpdate: false
    )
    /// events.k8s.io/v1 Events.
    public static let events = ResourceType(
        group: "events.k8s.io",
        version: "v1",
        resource: "events",
        kind: "Event",
        tracksGeneration: false,
        allowCreateOnUpdate: true,
        shortNames: ["ev"]
    )
    /// autoscaling/v2 HorizontalPodAutoscalers, with `/status`.
    public static let horizontalPodAutoscalers = ResourceType(
        group: "autoscaling",
        version: "v2",
        resource: "horizontalpodautoscalers",
        kind: "HorizontalPodAutoscaler",
        hasStatus: true,
        shortNames: ["hpa"]
    )
    /// autoscaling.inference.dev/v1alpha1 InferenceAutoscalePolicies (a CRD), with `/status`.
    public static let inferenceAutoscalePolicies: ResourceType = {
        var type = ResourceType.customResource(
            group: "autoscaling.inference.dev",
            version: "v1alpha1",
            resource: "inferenceautoscalepolicies",
            kind: "InferenceAutoscalePolicy",
            hasStatus: true,
            shortNames: ["iap"]
        )
        // As in crds/autoscaling.inference.dev_inferenceautoscalepolicies.yaml.
        type.printerColumns = [
            PrinterColumn(name: "Target", type: "string", jsonPath: ".spec.targetRef.name"),
            PrinterColumn(name: "Min", type: "integer", jsonPath: ".spec.minReplicas"),
            PrinterColumn(name: "Max", type: "integer", jsonPath: ".spec.maxReplicas"),
            PrinterColumn(name: "Replicas", type: "integer", jsonPath: ".status.currentReplicas"),
            PrinterColumn(name: "Desired", type: "integer", jsonPath: ".status.desiredReplicas"),
            PrinterColumn(name: "Mode", type: "string", jsonPath: ".spec.mode"),
            PrinterColumn(name: "Limited-By", type: "string", jsonPath: ".status.limitedBy"),
            PrinterColumn(name: "Ready", type: "string", jsonPath: #".status.conditions[?(@.type=="Ready")].status"#),
            PrinterColumn(name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp"),
        ]
        return type
    }()

    /// apiextensions.k8s.io/v1 CustomResourceDefinitions (cluster-scoped): creating one serves its resource.
    public static let customResourceDefinitions = ResourceType(
        group: "apiextensions.k8s.io",
        version: "v1",
        resource: "customresourcedefinitions",
        kind: "CustomResourceDefinition",
        namespaced: false,
        hasStatus: true,
        shortNames: ["crd", "crds"]
    )

    /// The types every new server serves.
    public static let preregistered: [ResourceType] = [
        .pods, .namespaces, .coreEvents, .secrets, .configMaps, .resourceQuotas, .deployments, .statefulSets,
        .podDisruptionBudgets, .leases, .events, .horizontalPodAutoscalers, .inferenceAutoscalePolicies,
        .customResourceDefinitions,
    ]
}
