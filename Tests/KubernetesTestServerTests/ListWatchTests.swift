import Foundation
import KubernetesTestServer
import Testing

@Suite("Lists and watches")
struct ListWatchTests {
    @Test func listPagesWithLimitAndContinueFromOneSnapshot() async throws {
        try await withServer { server, curl in
            for name in ["e", "c", "a", "d", "b"] { try server.create(pod(name), resource: .pods) }
            let first = try await curl("GET", "/api/v1/namespaces/default/pods?limit=2")
            #expect(first.json?.at("kind")?.stringValue == "PodList")
            #expect(first.json?.at("apiVersion")?.stringValue == "v1")
            #expect(first.json?.items.compactMap { $0.at("metadata.name")?.stringValue } == ["a", "b"])
            #expect(first.json?.at("metadata.remainingItemCount")?.int == 3)
            let listVersion = try #require(first.json?.at("metadata.resourceVersion")?.stringValue)
            #expect(listVersion == server.currentResourceVersion)
            var token = try #require(first.json?.at("metadata.continue")?.stringValue)

            // Changes after the first page do not show in the next pages: they come from the same snapshot.
            try server.create(pod("bb"), resource: .pods)
            try server.delete(resource: .pods, namespace: "default", name: "d")

            var names: [String] = []
            while true {
                let page = try await curl(
                    "GET",
                    "/api/v1/namespaces/default/pods?limit=2&continue=\(token)"
                )
                #expect(page.status == 200)
                #expect(page.json?.at("metadata.resourceVersion")?.stringValue == listVersion)
                names += page.json?.items.compactMap { $0.at("metadata.name")?.stringValue } ?? []
                guard let next = page.json?.at("metadata.continue")?.stringValue, !next.isEmpty else { break }
                token = next
            }
            #expect(names == ["c", "d", "e"])

            // After a compaction the token is too old.
            let again = try await curl("GET", "/api/v1/namespaces/default/pods?limit=1")
            let oldToken = try #require(again.json?.at("metadata.continue")?.stringValue)
            server.compact()
            let expired = try await curl("GET", "/api/v1/namespaces/default/pods?limit=1&continue=\(oldToken)")
            #expect(expired.status == 410)
            #expect(expired.json?.at("reason")?.stringValue == "Expired")
            #expect(expired.json?.at("metadata.continue")?.stringValue?.isEmpty == false)
        }
    }

    @Test(arguments: [
        ("app%3Dx", ["a", "b"]),
        ("app%3D%3Dx", ["a", "b"]),
        ("app!%3Dx", ["c", "d"]),
        ("app%20in%20(x,y)", ["a", "b", "c"]),
        ("app%20notin%20(x)", ["c", "d"]),
        ("tier", ["a", "c"]),
        ("!tier", ["b", "d"]),
        ("app%3Dx,tier%3Dgpu", ["a"]),
    ])
    func labelSelectors(selector: String, expected: [String]) async throws {
        try await withServer { server, curl in
            try server.create(pod("a", labels: ["app": "x", "tier": "gpu"]), resource: .pods)
            try server.create(pod("b", labels: ["app": "x"]), resource: .pods)
            try server.create(pod("c", labels: ["app": "y", "tier": "cpu"]), resource: .pods)
            try server.create(pod("d"), resource: .pods)
            let result = try await curl("GET", "/api/v1/namespaces/default/pods?labelSelector=\(selector)")
            #expect(result.status == 200)
            #expect(result.json?.items.compactMap { $0.at("metadata.name")?.stringValue } == expected)
        }
    }

    @Test func fieldSelectorsAndClusterWideLists() async throws {
        try await withServer { server, curl in
            try server.create(.object(["metadata": .object(["name": .string("ml")])]), resource: .namespaces)
            try server.create(pod("a"), resource: .pods)
            try server.create(pod("a", namespace: "ml"), resource: .pods)
            try server.create(pod("b", namespace: "ml"), resource: .pods)

            let all = try await curl("GET", "/api/v1/pods")
            #expect(all.json?.items.compactMap { $0.at("metadata.namespace")?.stringValue } == ["default", "ml", "ml"])

            let byName = try await curl("GET", "/api/v1/pods?fieldSelector=metadata.name%3Da")
            #expect(byName.json?.items.count == 2)
            let byNamespace = try await curl(
                "GET",
                "/api/v1/pods?fieldSelector=metadata.namespace%3Dml,metadata.name!%3Da"
            )
            #expect(byNamespace.json?.items.compactMap { $0.at("metadata.name")?.stringValue } == ["b"])
            let unsupported = try await curl("GET", "/api/v1/pods?fieldSelector=spec.bogus%3Dx")
            #expect(unsupported.status == 400)
            let badLabels = try await curl("GET", "/api/v1/pods?labelSelector=app%20in%20x")
            #expect(badLabels.status == 400)
        }
    }

    @Test func watchSeesChangesInOrderWithBookmarks() async throws {
        var options = TestAPIServer.Options()
        options.bookmarkInterval = 0.2
        try await withServer(options) { server, curl in
            try server.create(deployment("old"), resource: .deployments)
            let start = server.currentResourceVersion
            // Open for 15 s: the changes come as soon as this task sees the watch, within that on a loaded machine.
            async let stream = curl(
                "GET",
                "/apis/apps/v1/namespaces/default/deployments?watch=1&resourceVersion=\(start)"
                    + "&allowWatchBookmarks=true&timeoutSeconds=15",
                maxTime: 60
            )
            try await waitForWatches(server)
            let created = try server.create(deployment("web"), resource: .deployments)
            try server.update(setting(created, "spec.replicas", .number(5)), resource: .deployments)
            try server.delete(resource: .deployments, namespace: "default", name: "web")
            let result = try await stream
            // timeoutSeconds ends the stream cleanly; curl's own --max-time would have exited with 28.
            #expect(result.exitCode == 0)
            #expect(result.status == 200)
            #expect(result.headers["content-type"] == "application/json")
            #expect(result.headers["transfer-encoding"] == "chunked")

            let events = result.events
            let changes = events.filter { $0.at("type")?.stringValue != "BOOKMARK" }
            #expect(changes.compactMap { $0.at("type")?.stringValue } == ["ADDED", "MODIFIED", "DELETED"])
            #expect(changes.allSatisfy { $0.at("object.metadata.name")?.stringValue == "web" })
            #expect(changes.allSatisfy { $0.at("object.kind")?.stringValue == "Deployment" })
            #expect(changes[1].at("object.spec.replicas")?.int == 5)
            #expect(changes[2].at("object.spec.replicas")?.int == 5)  // DELETED carries the last state
            let versions = events.compactMap { Int($0.at("object.metadata.resourceVersion")?.stringValue ?? "") }
            #expect(versions.count == events.count)
            #expect(versions == versions.sorted())
            #expect(Set(versions).count == versions.count)
            #expect(versions.first! > Int(start)!)

            // Bookmarks come only after the version advanced; the idle tail of the watch produced none beyond
            // the current version.
            let bookmarks = events.filter { $0.at("type")?.stringValue == "BOOKMARK" }
            #expect(bookmarks.allSatisfy { $0.at("object.kind")?.stringValue == "Deployment" })
            #expect(bookmarks.allSatisfy { $0.at("object.apiVersion")?.stringValue == "apps/v1" })
        }
    }

    @Test func bookmarksReportProgressWhenFilteredChangesHappen() async throws {
        var options = TestAPIServer.Options()
        options.bookmarkInterval = 0.2
        try await withServer(options) { server, curl in
            let start = server.currentResourceVersion
            // Open for 15 s: long enough for the change and a bookmark after it, however late this task runs.
            async let stream = curl(
                "GET",
                "/api/v1/namespaces/default/pods?watch=true&resourceVersion=\(start)&allowWatchBookmarks=true"
                    + "&timeoutSeconds=15&labelSelector=app%3Dwatched",
                maxTime: 60
            )
            try await waitForWatches(server)
            try server.create(pod("other", labels: ["app": "ignored"]), resource: .pods)
            let result = try await stream
            let events = result.events
            #expect(events.compactMap { $0.at("type")?.stringValue } == ["BOOKMARK"])
            #expect(events.first?.at("object.metadata.resourceVersion")?.stringValue == server.currentResourceVersion)
        }
    }

    @Test func watchWithoutResourceVersionStartsWithSyntheticAdds() async throws {
        try await withServer { server, curl in
            try server.create(pod("a", labels: ["app": "x"]), resource: .pods)
            try server.create(pod("b", labels: ["app": "x"]), resource: .pods)
            try server.create(pod("c", labels: ["app": "y"]), resource: .pods)
            // Open for 15 s: the relabelling comes as soon as this task sees the watch, within that when loaded.
            async let stream = curl(
                "GET",
                "/api/v1/namespaces/default/pods?watch=1&labelSelector=app%3Dx&timeoutSeconds=15",
                maxTime: 60
            )
            try await waitForWatches(server)
            // Relabelling b out of the selector is a DELETED for this watch.
            let b = try #require(server.object(resource: .pods, namespace: "default", name: "b"))
            try server.update(setting(b, "metadata.labels.app", .string("y")), resource: .pods)
            let events = try await stream.events
            #expect(events.compactMap { $0.at("type")?.stringValue } == ["ADDED", "ADDED", "DELETED"])
            #expect(events.compactMap { $0.at("object.metadata.name")?.stringValue } == ["a", "b", "b"])
            #expect(events[2].at("object.metadata.labels.app")?.stringValue == "x")  // the last state that matched
        }
    }

    @Test func watchFromCompactedVersionGetsExpiredError() async throws {
        try await withServer { server, curl in
            try server.create(pod("a"), resource: .pods)
            let old = server.currentResourceVersion
            try server.create(pod("b"), resource: .pods)
            server.compact()
            let result = try await curl(
                "GET",
                "/api/v1/namespaces/default/pods?watch=1&resourceVersion=\(old)",
                maxTime: 60
            )
            #expect(result.status == 200)
            // The stream ends after the error: the watch has no timeout, and curl's --max-time would exit with 28.
            #expect(result.exitCode == 0)
            let events = result.events
            #expect(events.count == 1)
            #expect(events.first?.at("type")?.stringValue == "ERROR")
            #expect(events.first?.at("object.kind")?.stringValue == "Status")
            #expect(events.first?.at("object.code")?.int == 410)
            #expect(events.first?.at("object.reason")?.stringValue == "Expired")
            #expect(
                events.first?.at("object.message")?.stringValue
                    == "too old resource version: \(old) (\(server.currentResourceVersion))"
            )

            // From the version after the compaction, watching works.
            let fresh = try await curl(
                "GET",
                "/api/v1/namespaces/default/pods?watch=1&resourceVersion=\(server.currentResourceVersion)"
                    + "&timeoutSeconds=1",
                maxTime: 10
            )
            #expect(fresh.events.isEmpty)
            #expect(fresh.exitCode == 0)
        }
    }

    @Test func compactionLimitExpiresOldVersions() async throws {
        var options = TestAPIServer.Options()
        options.compactionLimit = 2
        try await withServer(options) { server, curl in
            let start = server.currentResourceVersion
            for name in ["a", "b", "c"] { try server.create(pod(name), resource: .pods) }
            let result = try await curl(
                "GET",
                "/api/v1/namespaces/default/pods?watch=1&resourceVersion=\(start)",
                maxTime: 10
            )
            #expect(result.events.first?.at("object.code")?.int == 410)
        }
    }

    @Test func watchFromAFutureVersionWaitsForIt() async throws {
        try await withServer { server, curl in
            let future = Int(server.currentResourceVersion)! + 2
            // Open for 15 s: the three creations come as soon as this task sees the watch, within that when loaded.
            async let stream = curl(
                "GET",
                "/api/v1/namespaces/default/pods?watch=1&resourceVersion=\(future)&timeoutSeconds=15",
                maxTime: 60
            )
            try await waitForWatches(server)
            for name in ["a", "b", "c"] { try server.create(pod(name), resource: .pods) }
            #expect(try await stream.events.compactMap { $0.at("object.metadata.name")?.stringValue } == ["c"])
        }
    }

    @Test func listsAreInEtcdKeyOrder() async throws {
        try await withServer { server, curl in
            for namespace in ["a", "a-b"] {
                try server.create(.object(["metadata": .object(["name": .string(namespace)])]), resource: .namespaces)
                try server.create(pod("x", namespace: namespace), resource: .pods)
            }
            let list = try await curl("GET", "/api/v1/pods?limit=1")
            #expect(list.json?.items.first?.at("metadata.namespace")?.stringValue == "a-b")  // "a-b/x" < "a/x"
            let token = try #require(list.json?.at("metadata.continue")?.stringValue)
            let next = try await curl("GET", "/api/v1/pods?limit=1&continue=\(token)")
            #expect(next.json?.items.first?.at("metadata.namespace")?.stringValue == "a")
            #expect(next.json?.at("metadata.continue") == nil)
        }
    }

    @Test func closeWatchesEndsStreamsAfterNEvents() async throws {
        try await withServer { server, curl in
            for name in ["a", "b", "c"] { try server.create(pod(name), resource: .pods) }
            server.closeWatches(afterEvents: 2)
            let result = try await curl("GET", "/api/v1/namespaces/default/pods?watch=1", maxTime: 60)
            // A clean end of the chunked body after two events: the watch has no timeout, and curl's --max-time
            // would exit with 28.
            #expect(result.exitCode == 0)
            let events = result.events
            #expect(events.compactMap { $0.at("object.metadata.name")?.stringValue } == ["a", "b"])

            // The client resumes from the last version it saw and gets the rest.
            let last = try #require(events.last?.at("object.metadata.resourceVersion")?.stringValue)
            server.closeWatches(afterEvents: nil)
            let resumed = try await curl(
                "GET",
                "/api/v1/namespaces/default/pods?watch=1&resourceVersion=\(last)&timeoutSeconds=1",
                maxTime: 10
            )
            #expect(resumed.events.compactMap { $0.at("object.metadata.name")?.stringValue } == ["c"])
        }
    }

    @Test func closeWatchesAppliesToLiveEvents() async throws {
        try await withServer { server, curl in
            server.closeWatches(afterEvents: 1)
            async let stream = curl(
                "GET",
                "/api/v1/namespaces/default/pods?watch=1&resourceVersion=\(server.currentResourceVersion)",
                maxTime: 60
            )
            try await waitForWatches(server)
            try server.create(pod("a"), resource: .pods)
            try server.create(pod("b"), resource: .pods)
            let result = try await stream
            #expect(result.exitCode == 0)
            #expect(result.events.compactMap { $0.at("object.metadata.name")?.stringValue } == ["a"])
        }
    }
}
