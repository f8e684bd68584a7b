import KubernetesModel

/// The legacy (unaggregated) discovery documents, built from the registered types.
enum Discovery {
    static func apiVersions(serverAddress: String) -> JSONValue {
        .object([
            "kind": .string("APIVersions"), "versions": .array([.string("v1")]),
            "serverAddressByClientCIDRs": .array([
                .object(["clientCIDR": .string("0.0.0.0/0"), "serverAddress": .string(serverAddress)])
            ]),
        ])
    }

    static func group(_ name: String, types: [ResourceType]) -> JSONValue? {
        let versions = Array(Set(types.filter { $0.group == name }.map(\.version))).sorted(by: preferredFirst)
        guard let preferred = versions.first else { return nil }
        func entry(_ version: String) -> JSONValue {
            .object(["groupVersion": .string("\(name)/\(version)"), "version": .string(version)])
        }
        return .object([
            "kind": .string("APIGroup"), "apiVersion": .string("v1"), "name": .string(name),
            "versions": .array(versions.map(entry)), "preferredVersion": entry(preferred),
        ])
    }

    static func groupList(types: [ResourceType]) -> JSONValue {
        let names = Array(Set(types.map(\.group).filter { !$0.isEmpty })).sorted()
        let groups = names.compactMap { name -> JSONValue? in
            guard var members = group(name, types: types)?.objectMembers else { return nil }
            members["kind"] = nil
            members["apiVersion"] = nil
            return .object(members)
        }
        return .object(["kind": .string("APIGroupList"), "apiVersion": .string("v1"), "groups": .array(groups)])
    }

    static func resourceList(group: String, version: String, types: [ResourceType]) -> JSONValue? {
        let served = types.filter { $0.group == group && $0.version == version }.sorted { $0.resource < $1.resource }
        guard !served.isEmpty else { return nil }
        var resources: [JSONValue] = []
        for type in served {
            var main: [String: JSONValue] = [
                "name": .string(type.resource), "singularName": .string(type.kind.lowercased()),
                "namespaced": .bool(type.namespaced), "kind": .string(type.kind),
                "verbs": .array(
                    ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"].map {
                        .string($0)
                    }
                ),
            ]
            if !type.shortNames.isEmpty { main["shortNames"] = .array(type.shortNames.map { .string($0) }) }
            resources.append(.object(main))
            let subresourceVerbs = JSONValue.array(["get", "patch", "update"].map { .string($0) })
            if type.scale != nil {
                resources.append(
                    .object([
                        "name": .string("\(type.resource)/scale"), "singularName": .string(""),
                        "namespaced": .bool(type.namespaced), "group": .string("autoscaling"),
                        "version": .string("v1"), "kind": .string("Scale"), "verbs": subresourceVerbs,
                    ])
                )
            }
            if type.hasStatus {
                resources.append(
                    .object([
                        "name": .string("\(type.resource)/status"), "singularName": .string(""),
                        "namespaced": .bool(type.namespaced), "kind": .string(type.kind), "verbs": subresourceVerbs,
                    ])
                )
            }
        }
        let groupVersion = group.isEmpty ? version : "\(group)/\(version)"
        return .object([
            "kind": .string("APIResourceList"), "apiVersion": .string("v1"),
            "groupVersion": .string(groupVersion), "resources": .array(resources),
        ])
    }

    static func version() -> JSONValue {
        .object([
            "major": .string("1"), "minor": .string("33"), "gitVersion": .string("v1.33.0-inference-autoscaler-test"),
            "gitCommit": .string("0000000000000000000000000000000000000000"), "gitTreeState": .string("clean"),
            "buildDate": .string("2025-01-01T00:00:00Z"), "goVersion": .string("go1.24.0"),
            "compiler": .string("gc"), "platform": .string("linux/amd64"),
        ])
    }

    /// Kubernetes version priority, simplified: GA before beta before alpha, higher numbers first.
    private static func preferredFirst(_ lhs: String, _ rhs: String) -> Bool {
        func rank(_ version: String) -> (Int, Int, Int) {
            let stability = version.contains("alpha") ? 0 : (version.contains("beta") ? 1 : 2)
            let digits = version.dropFirst().prefix { $0.isNumber }
            let suffix = version.split(whereSeparator: { $0 == "a" || $0 == "b" }).last.flatMap {
                Int($0.filter(\.isNumber))
            }
            return (stability, Int(digits) ?? 0, suffix ?? 0)
        }
        return rank(lhs) > rank(rhs)
    }
}
