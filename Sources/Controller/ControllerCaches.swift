import Foundation
import KubernetesClient
import KubernetesModel
import Logging
import Synchronization

/// The informers the controller reads instead of the API, per watched namespace (nil: one for all): policies, pods,
/// the other autoscalers of the same workloads (HPAs always, KEDA's ScaledObjects where KEDA is installed),
/// Deployments and StatefulSets (the targets' replica counts and selectors, so that a steady state reads no
/// `/scale`), and ResourceQuotas.
public final class ControllerCaches: Sendable {
    static let scaledObjectResource = APIResource.kedaScaledObjects

    let policies: [Informer<InferenceAutoscalePolicy>]
    let pods: PodCaches
    let hpas: [Informer<DynamicObject>]
    let scaledObjects: [Informer<DynamicObject>]
    /// HPAs and ScaledObjects by scope.
    let otherScalers: [String?: [Informer<DynamicObject>]]
    /// By scope, then by resource name.
    let workloads: [String?: [String: Informer<DynamicObject>]]
    /// ResourceQuotas by scope.
    let quotas: [String?: Informer<DynamicObject>]
    private let client: KubernetesAPIClient
    /// How often discovery is asked again whether KEDA's ScaledObjects are served, while they are not.
    private let kedaDiscoveryInterval: Duration
    private let keda = Mutex(KEDAState())

    private struct KEDAState {
        /// Nil until the first discovery answered; then whether the API serves ScaledObjects.
        var served: Bool?
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    /// - Parameters:
    ///   - namespaces: the namespaces to watch; empty for all.
    ///   - kedaDiscoveryInterval: KEDA installed after the controller started is found within this time.
    public init(
        client: KubernetesAPIClient, namespaces: [String], kedaDiscoveryInterval: Duration = .seconds(60),
        logger: Logger
    ) {
        self.client = client
        self.kedaDiscoveryInterval = kedaDiscoveryInterval
        let scopes: [String?] = namespaces.isEmpty ? [nil] : namespaces
        func informer(
            _ resource: APIResource, _ scope: String?, _ transform: @escaping @Sendable (DynamicObject) -> DynamicObject
        ) -> Informer<DynamicObject> {
            Informer(
                client: client, resource: resource, namespace: scope, transform: transform, deliversEvents: false,
                logger: logger)
        }
        policies = scopes.map {
            Informer(
                client: client, resource: .inferenceAutoscalePolicies, namespace: $0, transform: CachedFields.policy,
                logger: logger)
        }
        var others: [String?: [Informer<DynamicObject>]] = [:]
        var workloads: [String?: [String: Informer<DynamicObject>]] = [:]
        var hpas: [Informer<DynamicObject>] = []
        var scaledObjects: [Informer<DynamicObject>] = []
        var quotas: [String?: Informer<DynamicObject>] = [:]
        for scope in scopes {
            quotas[scope] = informer(.resourceQuotas, scope, CachedFields.quota)
            let hpa = informer(.horizontalPodAutoscalers, scope, CachedFields.scaler)
            let keda = informer(Self.scaledObjectResource, scope, CachedFields.scaler)
            hpas.append(hpa)
            scaledObjects.append(keda)
            others[scope] = [hpa, keda]
            for resource in [APIResource.deployments, .statefulSets] {
                workloads[scope, default: [:]][resource.name] = informer(resource, scope, CachedFields.workload)
            }
        }
        self.pods = PodCaches(client: client, logger: logger)
        self.otherScalers = others
        self.workloads = workloads
        self.quotas = quotas
        self.hpas = hpas
        self.scaledObjects = scaledObjects
    }

    /// True once the policies and HPAs have their first list (for `/readyz`); pods are listed per namespace when its
    /// policies are first reconciled.
    public var hasSynced: Bool {
        policies.allSatisfy(\.hasSynced) && hpas.allSatisfy(\.hasSynced)
    }

    /// Returns once the pods, HPAs and (where KEDA is installed) ScaledObjects have their first list: a reconcile
    /// before would see no pods or no conflicts.
    func waitForSync() async {
        for cache in hpas { await cache.waitForSync() }
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let known = keda.withLock { state -> Bool in
                if state.served != nil { return true }
                state.waiters.append(waiter)
                return false
            }
            if known { waiter.resume() }
        }
        if keda.withLock({ $0.served ?? false }) { for cache in scaledObjects { await cache.waitForSync() } }
    }

    func policy(namespace: String?, name: String) -> InferenceAutoscalePolicy? {
        policies.lazy.compactMap { $0.get(namespace: namespace, name: name) }.first
    }

    func policies(
        in namespace: String, where isIncluded: (InferenceAutoscalePolicy) -> Bool = { _ in true }
    ) -> [InferenceAutoscalePolicy] {
        policies.flatMap { $0.list(namespace: namespace, where: isIncluded) }
    }

    var policyCount: Int { policies.reduce(0) { $0 + $1.count } }

    /// Lists and watches every cache until cancelled. KEDA's CRD may be absent: its caches run only where the API
    /// serves ScaledObjects.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.pods.run() }
            for cache in hpas + workloads.values.flatMap(\.values) + quotas.values {
                group.addTask { try await cache.run() }
            }
            group.addTask { try await self.runScaledObjectCaches() }
            for cache in policies { group.addTask { try await cache.run() } }
            try await group.waitForAll()
        }
    }

    /// Asks discovery whether ScaledObjects are served, again every `kedaDiscoveryInterval` until they are, then
    /// runs their caches: KEDA installed after the controller started counts as soon as it is found.
    private func runScaledObjectCaches() async throws {
        while true {
            let served: Bool
            do {
                _ = try await client.resolve(apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject")
                served = true
            } catch let error as KubernetesError where error.isNotFound {
                served = false
            } catch {
                // Discovery itself failed: no answer yet, so workers keep waiting rather than miss a conflict.
                try await Task.sleep(for: .seconds(2))
                continue
            }
            let waiters = keda.withLock { state in
                state.served = served
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
            if served { break }
            try await Task.sleep(for: kedaDiscoveryInterval)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for cache in scaledObjects { group.addTask { try await cache.run() } }
            try await group.waitForAll()
        }
    }
}
