import Foundation
import KubernetesModel
import KubernetesTestServer
import Testing

@testable import KubernetesClient

@Suite(.timeLimit(.minutes(1))) struct WatchTests {
    @Test func aWatchStreamsChangesInOrder() async throws {
        try await withCluster { cluster in
            let client = cluster.client()
            let start = try await client.list(DynamicObject.self, .pods, namespace: "w")
            // The loop below stops at the third event; the server's timeout only bounds a watch that misses one, and
            // must outlast the three requests that make the events on a loaded machine.
            let stream = try await client.watch(
                DynamicObject.self, .pods, namespace: "w", resourceVersion: start.metadata.resourceVersion,
                timeoutSeconds: 45)
            _ = try await client.create(pod("a", labels: [:]), .pods, namespace: "w")
            _ = try await client.patch(
                DynamicObject.self, .pods, namespace: "w", name: "a",
                .merge(.object(["metadata": .object(["labels": .object(["x": .string("1")])])])))
            try await client.delete(.pods, namespace: "w", name: "a")
            var seen: [(WatchEvent<DynamicObject>.Kind, Int)] = []
            for try await event in stream where event.type != .bookmark {
                seen.append((event.type, Int(event.resourceVersion ?? "") ?? -1))
                if seen.count == 3 { break }
            }
            #expect(seen.map(\.0) == [.added, .modified, .deleted])
            #expect(seen.map(\.1) == seen.map(\.1).sorted())
            #expect(Set(seen.map(\.1)).count == 3)
        }
    }

    @Test func anInformerDeliversEveryChangeOnceThroughCutWatches() async throws {
        try await withCluster { cluster in
            let client = cluster.client()
            cluster.server.closeWatches(afterEvents: 3)
            let informer = Informer<DynamicObject>(
                client: cluster.client(), resource: .pods, namespace: "w", watchTimeoutSeconds: 30)
            let run = Task { try await informer.run() }
            defer { run.cancel() }
            await informer.waitForSync()

            var expected: [String] = []
            for index in 0..<12 {
                let created = try await client.create(pod("p\(index)", labels: [:]), .pods, namespace: "w")
                expected.append("added p\(index) \(created.metadata.resourceVersion!)")
                let changed = try await client.patch(
                    DynamicObject.self, .pods, namespace: "w", name: "p\(index)",
                    .merge(.object(["metadata": .object(["labels": .object(["step": .string("2")])])])))
                expected.append("modified p\(index) \(changed.metadata.resourceVersion!)")
            }
            try await client.delete(.pods, namespace: "w", name: "p0")
            expected.append("deleted p0")

            var delivered: [String] = []
            for await event in informer.events {
                switch event {
                case .added(let object):
                    delivered.append("added \(object.metadata.name!) \(object.metadata.resourceVersion!)")
                case .modified(let object):
                    delivered.append("modified \(object.metadata.name!) \(object.metadata.resourceVersion!)")
                case .deleted(let object): delivered.append("deleted \(object.metadata.name!)")
                case .synced, .recovered: continue
                }
                if delivered.count == expected.count { break }
            }
            #expect(delivered == expected)
            #expect(informer.list().count == 11)
            #expect(cluster.server.requests.filter(\.isWatch).count > 4)
        }
    }

    @Test func aCompactedResourceVersionMakesTheInformerListAgain() async throws {
        try await withCluster { cluster in
            let client = cluster.client()
            for index in 0..<3 { _ = try await client.create(pod("p\(index)", labels: [:]), .pods, namespace: "w") }
            let informer = Informer<DynamicObject>(
                client: cluster.client(), resource: .pods, namespace: "w", watchTimeoutSeconds: 1)
            let run = Task { try await informer.run() }
            defer { run.cancel() }
            await informer.waitForSync()
            var iterator = informer.events.makeAsyncIterator()
            var initial = 0
            while initial < 4, let event = await iterator.next() {
                if case .synced = event { initial = 4 } else { initial += 1 }
            }

            // While the informer is between watches, history it would resume from is compacted away.
            cluster.server.closeWatches(afterEvents: 0)
            try await client.delete(.pods, namespace: "w", name: "p1")
            _ = try await client.create(pod("p9", labels: [:]), .pods, namespace: "w")
            cluster.server.compact()
            cluster.server.closeWatches(afterEvents: nil)

            var changes: Set<String> = []
            while changes.count < 2, let event = await iterator.next() {
                switch event {
                case .added(let object): changes.insert("added \(object.metadata.name!)")
                case .deleted(let object): changes.insert("deleted \(object.metadata.name!)")
                case .modified(let object): changes.insert("modified \(object.metadata.name!)")
                case .synced, .recovered: continue
                }
            }
            #expect(changes == ["deleted p1", "added p9"])
            #expect(informer.list().compactMap(\.metadata.name) == ["p0", "p2", "p9"])
        }
    }
}
