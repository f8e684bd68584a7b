import Foundation
import KubernetesModel
import KubernetesTestServer
import Testing

@Suite("Objects: create, get, update, delete, generation, status")
struct ObjectTests {
    let deployments = "/apis/apps/v1/namespaces/default/deployments"

    @Test func createGetUpdateConflictDelete() async throws {
        try await withServer { server, curl in
            // Create.
            let created = try await curl(
                "POST",
                deployments,
                body: json(deployment("web")),
                contentType: "application/json"
            )
            #expect(created.status == 201)
            let object = try #require(created.json)
            #expect(object.at("kind")?.stringValue == "Deployment")
            #expect(object.at("apiVersion")?.stringValue == "apps/v1")
            #expect(object.at("metadata.namespace")?.stringValue == "default")
            #expect(object.at("metadata.generation")?.int == 1)
            #expect(object.at("metadata.uid")?.stringValue?.count == 36)
            let created1 = try #require(object.at("metadata.creationTimestamp")?.stringValue)
            #expect(Timestamp.parse(created1) != nil)
            #expect(!created1.contains("."))
            let version1 = try #require(Int(object.at("metadata.resourceVersion")?.stringValue ?? ""))

            // Get.
            let fetched = try await curl("GET", "\(deployments)/web")
            #expect(fetched.status == 200)
            #expect(fetched.json == object)
            #expect(fetched.headers["content-type"] == "application/json")

            // Duplicate create.
            let duplicate = try await curl(
                "POST",
                deployments,
                body: json(deployment("web")),
                contentType: "application/json"
            )
            #expect(duplicate.status == 409)
            #expect(duplicate.json?.at("reason")?.stringValue == "AlreadyExists")
            #expect(duplicate.json?.at("message")?.stringValue == "deployments.apps \"web\" already exists")
            #expect(duplicate.json?.at("details.group")?.stringValue == "apps")
            #expect(duplicate.json?.at("details.kind")?.stringValue == "deployments")

            // Update with the current resourceVersion.
            var changed = object
            changed = setting(changed, "spec.replicas", .number(4))
            let updated = try await curl(
                "PUT",
                "\(deployments)/web",
                body: json(changed),
                contentType: "application/json"
            )
            #expect(updated.status == 200)
            let version2 = try #require(Int(updated.json?.at("metadata.resourceVersion")?.stringValue ?? ""))
            #expect(version2 > version1)
            #expect(updated.json?.at("spec.replicas")?.int == 4)
            #expect(updated.json?.at("metadata.uid") == object.at("metadata.uid"))

            // Update with the stale one.
            let stale = try await curl(
                "PUT",
                "\(deployments)/web",
                body: json(changed),
                contentType: "application/json"
            )
            #expect(stale.status == 409)
            #expect(stale.json?.at("reason")?.stringValue == "Conflict")
            #expect(
                stale.json?.at("message")?.stringValue
                    == "Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; "
                    + "please apply your changes to the latest version and try again"
            )

            // Unconditional update (no resourceVersion) is allowed for Deployments.
            let unconditional = setting(setting(changed, "metadata.resourceVersion", nil), "spec.replicas", .number(5))
            let forced = try await curl(
                "PUT",
                "\(deployments)/web",
                body: json(unconditional),
                contentType: "application/json"
            )
            #expect(forced.status == 200)
            #expect(forced.json?.at("spec.replicas")?.int == 5)

            // Mismatched name and kind.
            let renamed = setting(unconditional, "metadata.name", .string("other"))
            let mismatch = try await curl(
                "PUT",
                "\(deployments)/web",
                body: json(renamed),
                contentType: "application/json"
            )
            #expect(mismatch.status == 400)
            #expect(mismatch.json?.at("reason")?.stringValue == "BadRequest")
            let wrongKind = setting(deployment("x"), "kind", .string("StatefulSet"))
            #expect(
                try await curl("POST", deployments, body: json(wrongKind), contentType: "application/json").status
                    == 400
            )
            let noName = setting(deployment("x"), "metadata.name", nil)
            let invalid = try await curl("POST", deployments, body: json(noName), contentType: "application/json")
            #expect(invalid.status == 422)
            #expect(invalid.json?.at("reason")?.stringValue == "Invalid")
            #expect(invalid.json?.at("details.causes.0.field")?.stringValue == "metadata.name")

            // Delete.
            let deleted = try await curl("DELETE", "\(deployments)/web")
            #expect(deleted.status == 200)
            #expect(deleted.json?.at("metadata.name")?.stringValue == "web")
            let missing = try await curl("GET", "\(deployments)/web")
            #expect(missing.status == 404)
            #expect(missing.json?.at("message")?.stringValue == "deployments.apps \"web\" not found")
            #expect(missing.json?.at("details.name")?.stringValue == "web")
            #expect(try await curl("DELETE", "\(deployments)/web").status == 404)
            #expect(server.object(resource: .deployments, namespace: "default", name: "web") == nil)
        }
    }

    @Test func generateNameAndNamespaceRules() async throws {
        try await withServer { server, curl in
            let generated = setting(
                setting(pod("x"), "metadata.name", nil),
                "metadata.generateName",
                .string("worker-")
            )
            let result = try await curl(
                "POST",
                "/api/v1/namespaces/default/pods",
                body: json(generated),
                contentType: "application/json"
            )
            #expect(result.status == 201)
            let name = try #require(result.json?.at("metadata.name")?.stringValue)
            #expect(name.hasPrefix("worker-") && name.count == 12)

            let elsewhere = try await curl(
                "POST",
                "/api/v1/namespaces/inference/pods",
                body: json(pod("p", namespace: "inference")),
                contentType: "application/json"
            )
            #expect(elsewhere.status == 404)
            #expect(elsewhere.json?.at("message")?.stringValue == "namespaces \"inference\" not found")

            try server.create(.object(["metadata": .object(["name": .string("inference")])]), resource: .namespaces)
            let again = try await curl(
                "POST",
                "/api/v1/namespaces/inference/pods",
                body: json(pod("p", namespace: "inference")),
                contentType: "application/json"
            )
            #expect(again.status == 201)

            let wrongNamespace = try await curl(
                "POST",
                "/api/v1/namespaces/default/pods",
                body: json(pod("q", namespace: "inference")),
                contentType: "application/json"
            )
            #expect(wrongNamespace.status == 400)

            let badName = try await curl(
                "POST",
                "/api/v1/namespaces/default/pods",
                body: json(pod("Not_Valid")),
                contentType: "application/json"
            )
            #expect(badName.status == 422)
        }
    }

    @Test func generationCountsOnlySpecChanges() async throws {
        try await withServer { server, curl in
            let created = try server.create(deployment("web"), resource: .deployments)
            #expect(created.at("metadata.generation")?.int == 1)

            // A label change is metadata: no bump.
            let labelled = try server.update(
                setting(created, "metadata.labels", .object(["team": .string("ml")])),
                resource: .deployments
            )
            #expect(labelled.at("metadata.generation")?.int == 1)

            // A spec change: +1.
            let scaled = try server.update(setting(labelled, "spec.replicas", .number(7)), resource: .deployments)
            #expect(scaled.at("metadata.generation")?.int == 2)

            // Deployments also count annotation changes (the real strategy does).
            let annotated = try server.update(
                setting(scaled, "metadata.annotations", .object(["note": .string("x")])),
                resource: .deployments
            )
            #expect(annotated.at("metadata.generation")?.int == 3)

            // A status write through /status: no bump.
            let status = try await curl(
                "PUT",
                "/apis/apps/v1/namespaces/default/deployments/web/status",
                body: json(setting(annotated, "status", .object(["replicas": .number(7)]))),
                contentType: "application/json"
            )
            #expect(status.status == 200)
            #expect(status.json?.at("metadata.generation")?.int == 3)

            // A no-op write keeps the resourceVersion.
            let current = try #require(server.object(resource: .deployments, namespace: "default", name: "web"))
            let noop = try server.update(current, resource: .deployments)
            #expect(noop.at("metadata.resourceVersion") == current.at("metadata.resourceVersion"))

            // ConfigMaps have no generation.
            let configMap = try server.create(
                .object([
                    "metadata": .object(["name": .string("settings")]),
                    "data": .object(["a": .string("1")]),
                ]),
                resource: .configMaps
            )
            #expect(configMap.at("metadata.generation") == nil)
            #expect(configMap.at("kind")?.stringValue == "ConfigMap")
        }
    }

    @Test func statusSubresourceSeparatesSpecAndStatus() async throws {
        try await withServer { server, curl in
            // Status in a create body is dropped.
            let created = try server.create(
                setting(deployment("web"), "status", .object(["replicas": .number(9)])),
                resource: .deployments
            )
            #expect(created.at("status") == nil)

            // PUT /status changes status only, even when the body changes spec too.
            var body = setting(created, "status", .object(["replicas": .number(2), "readyReplicas": .number(1)]))
            body = setting(body, "spec.replicas", .number(10))
            let status = try await curl(
                "PUT",
                "/apis/apps/v1/namespaces/default/deployments/web/status",
                body: json(body),
                contentType: "application/json"
            )
            #expect(status.status == 200)
            #expect(status.json?.at("status.readyReplicas")?.int == 1)
            #expect(status.json?.at("spec.replicas")?.int == 2)

            // PUT on the main resource ignores status.
            let current = try #require(status.json)
            let main = setting(
                setting(current, "status", .object(["replicas": .number(99)])),
                "spec.replicas",
                .number(3)
            )
            let updated = try await curl(
                "PUT",
                "/apis/apps/v1/namespaces/default/deployments/web",
                body: json(main),
                contentType: "application/json"
            )
            #expect(updated.json?.at("status.replicas")?.int == 2)
            #expect(updated.json?.at("spec.replicas")?.int == 3)

            // Merge patch on /status changes only status.
            let patched = try await curl(
                "PATCH",
                "/apis/apps/v1/namespaces/default/deployments/web/status",
                body: #"{"spec":{"replicas":50},"status":{"readyReplicas":2}}"#,
                contentType: "application/merge-patch+json"
            )
            #expect(patched.status == 200)
            #expect(patched.json?.at("status.readyReplicas")?.int == 2)
            #expect(patched.json?.at("spec.replicas")?.int == 3)

            // GET /status returns the whole object; no /status on ConfigMaps.
            #expect(try await curl("GET", "/apis/apps/v1/namespaces/default/deployments/web/status").status == 200)
            #expect(try await curl("GET", "/api/v1/namespaces/default/configmaps/x/status").status == 404)
        }
    }

    @Test func customResourcesNeedResourceVersionAndListWithKinds() async throws {
        try await withServer { server, curl in
            let policies = "/apis/autoscaling.inference.dev/v1alpha1/namespaces/default/inferenceautoscalepolicies"
            let policy = JSONValue.object([
                "apiVersion": .string("autoscaling.inference.dev/v1alpha1"),
                "kind": .string("InferenceAutoscalePolicy"),
                "metadata": .object(["name": .string("llama")]),
                "spec": .object(["minReplicas": .number(1), "maxReplicas": .number(4)]),
            ])
            let created = try await curl("POST", policies, body: json(policy), contentType: "application/json")
            #expect(created.status == 201)
            #expect(created.json?.at("metadata.generation")?.int == 1)

            let unconditional = try await curl(
                "PUT",
                "\(policies)/llama",
                body: json(policy),
                contentType: "application/json"
            )
            #expect(unconditional.status == 422)
            #expect(unconditional.json?.at("message")?.stringValue?.contains("must be specified for an update") == true)

            let list = try await curl("GET", policies)
            #expect(list.json?.at("kind")?.stringValue == "InferenceAutoscalePolicyList")
            #expect(list.json?.items.first?.at("kind")?.stringValue == "InferenceAutoscalePolicy")

            // Built-in lists leave kind and apiVersion off their items, as the real server does.
            try server.create(deployment("web"), resource: .deployments)
            let builtIn = try await curl("GET", "/apis/apps/v1/deployments")
            #expect(builtIn.json?.at("kind")?.stringValue == "DeploymentList")
            #expect(builtIn.json?.items.first?.at("kind") == nil)
            #expect(builtIn.json?.items.first?.at("metadata.name")?.stringValue == "web")

            // A registered CRD type is served like the built-in ones.
            let widgets = ResourceType.customResource(
                group: "example.com",
                version: "v1",
                resource: "widgets",
                kind: "Widget"
            )
            server.register(widgets)
            let widget = try await curl(
                "POST",
                "/apis/example.com/v1/namespaces/default/widgets",
                body: #"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"}}"#,
                contentType: "application/json"
            )
            #expect(widget.status == 201)
            #expect(server.object(resource: widgets, namespace: "default", name: "w") != nil)
        }
    }

    @Test func leasesCanBeCreatedByPut() async throws {
        try await withServer { _, curl in
            let lease =
                #"{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"leader"},"#
                + #""spec":{"holderIdentity":"a"}}"#
            let created = try await curl(
                "PUT",
                "/apis/coordination.k8s.io/v1/namespaces/default/leases/leader",
                body: lease,
                contentType: "application/json"
            )
            #expect(created.status == 201)
            #expect(created.json?.at("spec.holderIdentity")?.stringValue == "a")
            let again = try await curl(
                "PUT",
                "/apis/coordination.k8s.io/v1/namespaces/default/leases/leader",
                body: lease,
                contentType: "application/json"
            )
            #expect(again.status == 422)  // Leases need a resourceVersion on update
        }
    }

    @Test func deletePreconditionsAndDeleteCollection() async throws {
        try await withServer { server, curl in
            let created = try server.create(pod("a", labels: ["app": "x"]), resource: .pods)
            try server.create(pod("b", labels: ["app": "x"]), resource: .pods)
            try server.create(pod("c", labels: ["app": "y"]), resource: .pods)
            let wrong = try await curl(
                "DELETE",
                "/api/v1/namespaces/default/pods/a",
                body: #"{"preconditions":{"resourceVersion":"1"}}"#,
                contentType: "application/json"
            )
            #expect(wrong.status == 409)
            let right = try await curl(
                "DELETE",
                "/api/v1/namespaces/default/pods/a",
                body: json(.object(["preconditions": .object(["uid": created.at("metadata.uid")!])])),
                contentType: "application/json"
            )
            #expect(right.status == 200)

            let collection = try await curl("DELETE", "/api/v1/namespaces/default/pods?labelSelector=app%3Dx")
            #expect(collection.status == 200)
            #expect(collection.json?.items.map { $0.at("metadata.name")?.stringValue } == ["b"])
            #expect(server.objects(resource: .pods).map { $0.at("metadata.name")?.stringValue } == ["c"])
        }
    }
}

/// A copy of `value` with the dotted path set (nil removes).
func setting(_ value: JSONValue, _ path: String, _ newValue: JSONValue?) -> JSONValue {
    value.setting(newValue, at: path)
}
