import Foundation
import KubernetesModel

/// What the real API server does around some writes, beyond storing the object: a CustomResourceDefinition makes
/// its resource served, and an `events.k8s.io/v1` Event is also a `core/v1` Event (one storage, two versions).
enum SharedStorage {
    /// The type a CRD serves: its served storage version (or first served version), scope, names, subresources and
    /// printer columns. Nil when the CRD lacks what the API server would require.
    static func resourceType(fromDefinition crd: JSONValue) -> ResourceType? {
        guard let group = crd.value(at: "spec.group")?.stringValue,
            let plural = crd.value(at: "spec.names.plural")?.stringValue,
            let kind = crd.value(at: "spec.names.kind")?.stringValue,
            let versions = crd.value(at: "spec.versions")?.arrayValue
        else { return nil }
        let served = versions.filter { $0["served"] == .bool(true) }
        guard let version = served.first(where: { $0["storage"] == .bool(true) }) ?? served.first,
            let versionName = version["name"]?.stringValue
        else { return nil }
        var scale: ResourceType.ScaleSubresource?
        if let subresource = version.value(at: "subresources.scale") {
            func path(_ key: String) -> String? {
                subresource[key]?.stringValue.map { $0.hasPrefix(".") ? String($0.dropFirst()) : $0 }
            }
            scale = ResourceType.ScaleSubresource(
                specReplicasPath: path("specReplicasPath") ?? "spec.replicas",
                statusReplicasPath: path("statusReplicasPath") ?? "status.replicas",
                labelSelectorPath: path("labelSelectorPath"), defaultReplicas: nil)
        }
        var type = ResourceType.customResource(
            group: group, version: versionName, resource: plural, kind: kind,
            namespaced: crd.value(at: "spec.scope")?.stringValue != "Cluster",
            hasStatus: version.value(at: "subresources.status") != nil, scale: scale,
            shortNames: crd.value(at: "spec.names.shortNames")?.arrayValue?.compactMap(\.stringValue) ?? [])
        type.printerColumns = (version["additionalPrinterColumns"]?.arrayValue ?? []).compactMap { column in
            guard let name = column["name"]?.stringValue, let jsonPath = column["jsonPath"]?.stringValue else {
                return nil
            }
            return PrinterColumn(
                name: name, type: column["type"]?.stringValue ?? "string", jsonPath: jsonPath,
                description: column["description"]?.stringValue ?? "")
        }
        return type
    }

    /// The status the apiextensions controllers give a CRD whose names are free: NamesAccepted and Established.
    static func established(_ crd: JSONValue, at time: Date) -> JSONValue {
        var crd = crd
        let stamp = JSONValue.string(Timestamp.format(time))
        func condition(_ type: String, _ reason: String, _ message: String) -> JSONValue {
            .object([
                "type": .string(type), "status": .string("True"), "lastTransitionTime": stamp,
                "reason": .string(reason), "message": .string(message),
            ])
        }
        let versions = crd.value(at: "spec.versions")?.arrayValue ?? []
        crd.setValue(
            .object([
                "acceptedNames": crd.value(at: "spec.names") ?? .object([:]),
                "conditions": .array([
                    condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                    condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
                ]),
                "storedVersions": .array(
                    versions.filter { $0["storage"] == .bool(true) }.compactMap { $0["name"] }),
            ]), at: "status")
        return crd
    }

    /// An `events.k8s.io/v1` Event as `core/v1` serves it (the conversion of `k8s.io/kubernetes/pkg/apis/events`):
    /// `regarding` → `involvedObject`, `note` → `message`, `reportingController` → `reportingComponent`, the
    /// `deprecated*` fields → `source`, `firstTimestamp`, `lastTimestamp`, `count`.
    static func coreEvent(from event: JSONValue) -> JSONValue {
        guard var members = event.objectMembers else { return event }
        func move(_ from: String, _ to: String) {
            if let value = members.removeValue(forKey: from) { members[to] = value }
        }
        members["apiVersion"] = .string("v1")
        move("regarding", "involvedObject")
        move("note", "message")
        move("reportingController", "reportingComponent")
        move("deprecatedSource", "source")
        move("deprecatedFirstTimestamp", "firstTimestamp")
        move("deprecatedLastTimestamp", "lastTimestamp")
        move("deprecatedCount", "count")
        return .object(members)
    }
}
