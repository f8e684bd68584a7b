import Foundation
import KubernetesModel
import KubernetesTestServer
import Testing

@Suite("CustomResourceDefinitions and the two Event APIs")
struct SharedStorageTests {
    static let widgetDefinition = parse(
        """
        {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
         "metadata": {"name": "widgets.example.dev"},
         "spec": {"group": "example.dev", "scope": "Namespaced",
                  "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
                  "versions": [
                    {"name": "v1beta1", "served": false, "storage": false},
                    {"name": "v1", "served": true, "storage": true,
                     "subresources": {"status": {},
                                      "scale": {"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.size"}},
                     "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]}]}}
        """)

    @Test func creatingADefinitionServesItsResource() async throws {
        try await withServer { server, curl in
            let widgets = "/apis/example.dev/v1/namespaces/default/widgets"
            #expect(try await curl("GET", widgets).status == 404)

            let created = try await curl(
                "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                body: json(Self.widgetDefinition), contentType: "application/json")
            #expect(created.status == 201)
            let conditions = created.json?.at("status.conditions")?.elements ?? []
            #expect(
                conditions.contains {
                    $0.at("type")?.stringValue == "Established" && $0.at("status")?.stringValue == "True"
                })

            let widget = parse(
                #"{"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 2}}"#)
            #expect(try await curl("POST", widgets, body: json(widget), contentType: "application/json").status == 201)
            let scale = try await curl("GET", "\(widgets)/w/scale")
            #expect(scale.json?.at("spec.replicas")?.int == 2)

            let discovery = try await curl("GET", "/apis/example.dev/v1")
            let resources = discovery.json?.at("resources")?.elements ?? []
            #expect(resources.contains { $0.at("name")?.stringValue == "widgets" })

            let table = try await curl(
                "GET", widgets, extra: ["-H", "Accept: application/json;as=Table;v=v1;g=meta.k8s.io"])
            let columns = table.json?.at("columnDefinitions")?.elements.compactMap { $0.at("name")?.stringValue }
            #expect(columns == ["Name", "Size"])
        }
    }

    @Test func eventsOfTheNewAPIAreServedAsCoreEvents() async throws {
        try await withServer { server, curl in
            let event = parse(
                """
                {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "p.1"},
                 "eventTime": "2026-11-30T10:00:00.000000Z", "reportingController": "inference-autoscaler",
                 "reportingInstance": "ia-0", "action": "Scale", "reason": "ScaledUp", "type": "Normal",
                 "note": "1 -> 3", "regarding": {"kind": "InferenceAutoscalePolicy", "name": "p", "namespace": "default",
                 "uid": "u-1", "apiVersion": "autoscaling.inference.dev/v1alpha1"}}
                """)
            let created = try await curl(
                "POST", "/apis/events.k8s.io/v1/namespaces/default/events", body: json(event),
                contentType: "application/json")
            #expect(created.status == 201)

            // kubectl describe's search: core/v1 with involvedObject field selectors.
            let selector = "involvedObject.name=p,involvedObject.kind=InferenceAutoscalePolicy,involvedObject.uid=u-1"
            let listed = try await curl("GET", "/api/v1/namespaces/default/events?fieldSelector=\(selector)")
            let items = listed.json?.items ?? []
            #expect(items.count == 1)
            #expect(items.first?.at("message")?.stringValue == "1 -> 3")
            #expect(items.first?.at("reportingComponent")?.stringValue == "inference-autoscaler")
            #expect(items.first?.at("metadata.resourceVersion") == created.json?.at("metadata.resourceVersion"))

            #expect(try await curl("DELETE", "/apis/events.k8s.io/v1/namespaces/default/events/p.1").status == 200)
            #expect(try await curl("GET", "/api/v1/namespaces/default/events/p.1").status == 404)
        }
    }
}
