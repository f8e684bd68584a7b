import Foundation
import KubernetesTestServer
import Testing

@Suite("Patches and the scale subresource")
struct PatchScaleTests {
    let web = "/apis/apps/v1/namespaces/default/deployments/web"

    @Test func scaleGetAndMergePatch() async throws {
        try await withServer { server, curl in
            let created = try server.create(deployment("web", replicas: 2), resource: .deployments)
            try server.update(
                setting(created, "status", .object(["replicas": .number(2)])),
                resource: .deployments,
                subresource: "status"
            )

            let scale = try await curl("GET", "\(web)/scale")
            #expect(scale.status == 200)
            let body = try #require(scale.json)
            #expect(body.at("kind")?.stringValue == "Scale")
            #expect(body.at("apiVersion")?.stringValue == "autoscaling/v1")
            #expect(body.at("metadata.name")?.stringValue == "web")
            #expect(body.at("metadata.namespace")?.stringValue == "default")
            #expect(body.at("metadata.uid") == created.at("metadata.uid"))
            #expect(body.at("spec.replicas")?.int == 2)
            #expect(body.at("status.replicas")?.int == 2)
            #expect(body.at("status.selector")?.stringValue == "app=web,tier=gpu")

            // A watch on the workload sees the scale change as MODIFIED. It stays open for 15 s: the patch comes
            // from another curl process, which a loaded machine may take seconds to start.
            async let stream = curl(
                "GET",
                "/apis/apps/v1/namespaces/default/deployments?watch=1&resourceVersion=\(server.currentResourceVersion)"
                    + "&timeoutSeconds=15",
                maxTime: 60
            )
            try await waitForWatches(server)

            let patched = try await curl(
                "PATCH",
                "\(web)/scale",
                body: #"{"spec":{"replicas":5}}"#,
                contentType: "application/merge-patch+json"
            )
            #expect(patched.status == 200)
            #expect(patched.json?.at("kind")?.stringValue == "Scale")
            #expect(patched.json?.at("spec.replicas")?.int == 5)
            let workload = try #require(server.object(resource: .deployments, namespace: "default", name: "web"))
            #expect(workload.at("spec.replicas")?.int == 5)
            #expect(workload.at("metadata.generation")?.int == 2)
            #expect(patched.json?.at("metadata.resourceVersion") == workload.at("metadata.resourceVersion"))

            let events = try await stream.events
            #expect(events.compactMap { $0.at("type")?.stringValue } == ["MODIFIED"])
            #expect(events.first?.at("object.spec.replicas")?.int == 5)
        }
    }

    @Test func scalePutChecksResourceVersionAndReplicas() async throws {
        try await withServer { server, curl in
            try server.create(deployment("web", replicas: 1), resource: .deployments)
            let scale = try #require(try await curl("GET", "\(web)/scale").json)

            let put = try await curl(
                "PUT",
                "\(web)/scale",
                body: json(setting(scale, "spec.replicas", .number(3))),
                contentType: "application/json"
            )
            #expect(put.status == 200)
            #expect(put.json?.at("spec.replicas")?.int == 3)

            let stale = try await curl(
                "PUT",
                "\(web)/scale",
                body: json(setting(scale, "spec.replicas", .number(4))),
                contentType: "application/json"
            )
            #expect(stale.status == 409)
            #expect(stale.json?.at("reason")?.stringValue == "Conflict")

            let negative = try await curl(
                "PATCH",
                "\(web)/scale",
                body: #"{"spec":{"replicas":-1}}"#,
                contentType: "application/merge-patch+json"
            )
            #expect(negative.status == 422)

            #expect(try await curl("GET", "/api/v1/namespaces/default/pods/x/scale").status == 404)
            #expect(try await curl("GET", "/apis/apps/v1/namespaces/default/deployments/none/scale").status == 404)

            // A StatefulSet without spec.replicas is defaulted to 1, as the API server does.
            try server.create(
                .object([
                    "metadata": .object(["name": .string("db")]),
                    "spec": .object(["selector": .object(["matchLabels": .object(["app": .string("db")])])]),
                ]),
                resource: .statefulSets
            )
            let statefulScale = try await curl("GET", "/apis/apps/v1/namespaces/default/statefulsets/db/scale")
            #expect(statefulScale.json?.at("spec.replicas")?.int == 1)
            #expect(statefulScale.json?.at("status.replicas")?.int == 0)
            #expect(statefulScale.json?.at("status.selector")?.stringValue == "app=db")
        }
    }

    @Test func mergePatchAddsReplacesAndRemoves() async throws {
        try await withServer { server, curl in
            try server.create(deployment("web", labels: ["a": "1", "b": "2"]), resource: .deployments)
            let patched = try await curl(
                "PATCH",
                web,
                body: #"{"metadata":{"labels":{"a":null,"c":"3"}},"spec":{"replicas":6}}"#,
                contentType: "application/merge-patch+json"
            )
            #expect(patched.status == 200)
            #expect(patched.json?.at("metadata.labels") == .object(["b": .string("2"), "c": .string("3")]))
            #expect(patched.json?.at("spec.replicas")?.int == 6)
            #expect(patched.json?.at("metadata.generation")?.int == 2)

            // A resourceVersion in the patch is a precondition.
            let stale = try await curl(
                "PATCH",
                web,
                body: #"{"metadata":{"resourceVersion":"1"},"spec":{"replicas":1}}"#,
                contentType: "application/merge-patch+json"
            )
            #expect(stale.status == 409)

            // Strategic merge patch is accepted for built-in types.
            let strategic = try await curl(
                "PATCH",
                web,
                body: #"{"spec":{"paused":true}}"#,
                contentType: "application/strategic-merge-patch+json"
            )
            #expect(strategic.status == 200)
            #expect(strategic.json?.at("spec.paused") == .bool(true))

            #expect(
                try await curl("PATCH", "\(web)-missing", body: "{}", contentType: "application/merge-patch+json")
                    .status == 404
            )
            let unsupported = try await curl("PATCH", web, body: "{}", contentType: "text/plain")
            #expect(unsupported.status == 415)
            #expect(unsupported.json?.at("reason")?.stringValue == "UnsupportedMediaType")
        }
    }

    @Test func jsonPatchOperations() async throws {
        try await withServer { server, curl in
            try server.create(deployment("web", labels: ["a": "1"]), resource: .deployments)
            let operations = """
                [{"op":"test","path":"/spec/replicas","value":2},
                 {"op":"replace","path":"/spec/replicas","value":3},
                 {"op":"add","path":"/metadata/labels/b~1c","value":"x"},
                 {"op":"remove","path":"/metadata/labels/a"},
                 {"op":"add","path":"/spec/template/spec/containers/-","value":{"name":"sidecar","image":"s"}}]
                """
            let patched = try await curl("PATCH", web, body: operations, contentType: "application/json-patch+json")
            #expect(patched.status == 200)
            #expect(patched.json?.at("spec.replicas")?.int == 3)
            #expect(patched.json?.at("metadata.labels") == .object(["b/c": .string("x")]))
            #expect(patched.json?.at("spec.template.spec.containers.1.name")?.stringValue == "sidecar")

            let failedTest = try await curl(
                "PATCH",
                web,
                body: #"[{"op":"test","path":"/spec/replicas","value":9}]"#,
                contentType: "application/json-patch+json"
            )
            #expect(failedTest.status == 422)
            let missingPath = try await curl(
                "PATCH",
                web,
                body: #"[{"op":"remove","path":"/spec/nothing"}]"#,
                contentType: "application/json-patch+json"
            )
            #expect(missingPath.status == 422)
            let notAList = try await curl(
                "PATCH",
                web,
                body: #"{"op":"add"}"#,
                contentType: "application/json-patch+json"
            )
            #expect(notAList.status == 400)
        }
    }

    @Test func serverSideApplyCreatesAndMerges() async throws {
        try await withServer { server, curl in
            let pdb = "/apis/policy/v1/namespaces/default/poddisruptionbudgets/web"
            let config = """
                {"apiVersion":"policy/v1","kind":"PodDisruptionBudget",
                 "metadata":{"name":"web","labels":{"owner":"autoscaler"}},
                 "spec":{"maxUnavailable":1,"selector":{"matchLabels":{"app":"web"}}}}
                """
            let missingManager = try await curl("PATCH", pdb, body: config, contentType: "application/apply-patch+yaml")
            #expect(missingManager.status == 422)
            #expect(missingManager.json?.at("message")?.stringValue?.contains("fieldManager") == true)

            let created = try await curl(
                "PATCH",
                "\(pdb)?fieldManager=inference-autoscaler&force=true",
                body: config,
                contentType: "application/apply-patch+yaml"
            )
            #expect(created.status == 201)
            #expect(created.json?.at("spec.maxUnavailable")?.int == 1)
            #expect(created.json?.at("metadata.generation")?.int == 1)

            // Someone else adds a label; the next apply merges maps and replaces the rest.
            let current = try #require(
                server.object(resource: .podDisruptionBudgets, namespace: "default", name: "web")
            )
            try server.update(setting(current, "metadata.labels.team", .string("ml")), resource: .podDisruptionBudgets)
            let second = """
                {"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"web"},
                 "spec":{"minAvailable":2,"selector":{"matchLabels":{"app":"web2"}}}}
                """
            let applied = try await curl(
                "PATCH",
                "\(pdb)?fieldManager=inference-autoscaler&force=true",
                body: second,
                contentType: "application/apply-patch+yaml"
            )
            #expect(applied.status == 200)
            #expect(applied.json?.at("metadata.labels.team")?.stringValue == "ml")
            #expect(applied.json?.at("metadata.labels.owner")?.stringValue == "autoscaler")
            #expect(applied.json?.at("spec.minAvailable")?.int == 2)
            #expect(applied.json?.at("spec.selector.matchLabels") == .object(["app": .string("web2")]))
            #expect(applied.json?.at("metadata.generation")?.int == 2)

            // Applying the same configuration again is a no-op: same resourceVersion.
            let again = try await curl(
                "PATCH",
                "\(pdb)?fieldManager=inference-autoscaler",
                body: second,
                contentType: "application/apply-patch+yaml"
            )
            #expect(again.json?.at("metadata.resourceVersion") == applied.json?.at("metadata.resourceVersion"))

            let yaml = try await curl(
                "PATCH",
                "\(pdb)?fieldManager=m",
                body: "apiVersion: policy/v1\nkind: PodDisruptionBudget\n",
                contentType: "application/apply-patch+yaml"
            )
            #expect(yaml.status == 415)

            let noKind = try await curl(
                "PATCH",
                "\(pdb)?fieldManager=m",
                body: #"{"metadata":{"name":"web"}}"#,
                contentType: "application/apply-patch+yaml"
            )
            #expect(noKind.status == 400)
        }
    }

    @Test func dryRunDoesNotPersist() async throws {
        try await withServer { server, curl in
            let result = try await curl(
                "POST",
                "/apis/apps/v1/namespaces/default/deployments?dryRun=All",
                body: json(deployment("web")),
                contentType: "application/json"
            )
            #expect(result.status == 201)
            #expect(server.object(resource: .deployments, namespace: "default", name: "web") == nil)
        }
    }
}
