import Foundation
import KubernetesClient
import KubernetesModel
import Logging

/// The informers the controller reads instead of the API, per watched namespace (nil: one for all): policies, pods,
/// the other autoscalers of the same workloads (HPAs always, KEDA's ScaledObjects where KEDA is installed), and
/// Deployments and StatefulSets (the targets' replica counts and selectors, so that a steady state reads no
/// `/scale`).
public final class ControllerCaches: Sendable {
    static let scaledObjectResource = APIResource(
        group: "keda.sh", version: "v1alpha1", name: "scaledobjects", kind: "ScaledObject")

    let policies: [Informer<InferenceAutoscalePolicy>]
    let pods: [String?: Informer<DynamicObject>]
    let hpas: [Informer<DynamicObject>]
    let scaledObjects: [Informer<DynamicObject>]
    /// HPAs and ScaledObjects by scope.
    let otherScalers: [String?: [Informer<DynamicObject>]]
    /// By scope, then by resource name.
    let workloads: [String?: [String: Informer<DynamicObject>]]
    private let client: KubernetesAPIClient

    /// - Parameter namespaces: the namespaces to watch; empty for all.
    public init(client: KubernetesAPIClient, namespaces: [String], logger: Logger) {
        self.client = client
        let scopes: [String?] = namespaces.isEmpty ? [nil] : namespaces
        func informer(_ resource: APIResource, _ scope: String?) -> Informer<DynamicObject> {
            Informer(client: client, resource: resource, namespace: scope, logger: logger)
        }
        policies = scopes.map {
            Informer(client: client, resource: .inferenceAutoscalePolicies, namespace: $0, logger: logger)
        }
        var pods: [String?: Informer<DynamicObject>] = [:]
        var others: [String?: [Informer<DynamicObject>]] = [:]
        var workloads: [String?: [String: Informer<DynamicObject>]] = [:]
        var hpas: [Informer<DynamicObject>] = []
        var scaledObjects: [Informer<DynamicObject>] = []
        for scope in scopes {
            pods[scope] = informer(.pods, scope)
            let hpa = informer(.horizontalPodAutoscalers, scope)
            let keda = informer(Self.scaledObjectResource, scope)
            hpas.append(hpa)
            scaledObjects.append(keda)
            others[scope] = [hpa, keda]
            for resource in [APIResource.deployments, .statefulSets] {
                workloads[scope, default: [:]][resource.name] = informer(resource, scope)
            }
        }
        self.pods = pods
        self.otherScalers = others
        self.workloads = workloads
        self.hpas = hpas
        self.scaledObjects = scaledObjects
    }

    /// True once the policies, pods and HPAs have their first list (for `/readyz`).
    public var hasSynced: Bool {
        policies.allSatisfy(\.hasSynced) && pods.values.allSatisfy(\.hasSynced) && hpas.allSatisfy(\.hasSynced)
    }

    /// Returns once the pods and HPAs have their first list: a reconcile before would see no pods or no conflicts.
    func waitForSync() async {
        for cache in pods.values { await cache.waitForSync() }
        for cache in hpas { await cache.waitForSync() }
    }

    func policy(namespace: String?, name: String) -> InferenceAutoscalePolicy? {
        policies.lazy.compactMap { $0.get(namespace: namespace, name: name) }.first
    }

    func policies(in namespace: String) -> [InferenceAutoscalePolicy] {
        policies.flatMap { $0.list(namespace: namespace) }
    }

    var policyCount: Int { policies.reduce(0) { $0 + $1.count } }

    /// Lists and watches every cache until cancelled. KEDA's CRD may be absent: its caches run only where the API
    /// serves ScaledObjects.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for cache in Array(pods.values) + hpas + workloads.values.flatMap(\.values) {
                group.addTask { try await cache.run() }
            }
            if (try? await client.resolve(apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject")) != nil {
                for cache in scaledObjects { group.addTask { try await cache.run() } }
            }
            for cache in policies { group.addTask { try await cache.run() } }
            try await group.waitForAll()
        }
    }
}
