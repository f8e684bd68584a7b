import Foundation
import KubernetesModel
import KubernetesTestServer
import MetricsFixture
import PrometheusTestSupport
import Testing

/// Two `inference-autoscaler run --leader-elect` processes against one API server and one Lease: only the holder
/// writes, a killed leader is replaced within the lease duration, and a terminated one hands over at once.
@Suite(.serialized, .timeLimit(.minutes(3))) struct LeaderElectionTests {
    static let leaseDuration = 6.0

    /// The cluster (a Deployment with two ready pods whose queue Prometheus scrapes) and two controller processes.
    final class Rig: @unchecked Sendable {
        let server: TestAPIServer
        let exporter: FixtureExporter
        let prometheus: PrometheusServer
        let directory: URL
        var processes: [String: Process] = [:]

        init() async throws {
            server = try await TestAPIServer.start(
                .init(tokens: ["token-a", "token-b"], initialNamespaces: ["default", "inference"]))
            exporter = try await FixtureExporter.start()
            prometheus = try await PrometheusServer.start(scraping: [exporter.address])
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("leader-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try server.create(
                Self.json(
                    #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"vllm","namespace":"inference"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"vllm"}},"template":{"metadata":{"labels":{"app":"vllm"}},"spec":{"containers":[{"name":"vllm","image":"vllm/vllm-openai"}]}}}}"#
                ), resource: .deployments)
            for index in 0..<2 {
                let pod = try server.create(
                    Self.json(
                        #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"vllm-\#(index)","namespace":"inference","labels":{"app":"vllm"}},"spec":{"containers":[{"name":"vllm","image":"x"}]}}"#
                    ), resource: .pods)
                guard case .object(var members) = pod else { continue }
                members["status"] = try Self.json(
                    #"{"phase":"Running","conditions":[{"type":"Ready","status":"True","lastTransitionTime":"\#(Timestamp.format(Date().addingTimeInterval(-600)))"}]}"#
                )
                try server.update(.object(members), resource: .pods, subresource: "status")
                exporter.set(PodMetrics(namespace: "inference", pod: "vllm-\(index)", engine: .vllm, waiting: 0))
            }
            try await prometheus.waitForSeries("vllm:num_requests_waiting")
            try server.create(
                Self.json(
                    #"{"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy","metadata":{"name":"llama","namespace":"inference"},"spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"vllm"},"minReplicas":1,"maxReplicas":10,"pollingInterval":"1s","signals":[{"type":"QueueDepth","target":5}],"behavior":{"scaleUp":{"stabilizationWindow":"0s"}}}}"#
                ), resource: .inferenceAutoscalePolicies)
        }

        static func json(_ text: String) throws -> JSONValue {
            try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        }

        /// Starts `inference-autoscaler run --leader-elect` authenticating with `token`.
        func start(_ token: String, extra: [String] = []) throws {
            // Named so that the token appears in no path the controller might log.
            let kubeconfig = directory.appendingPathComponent("replica-\(token.count)-\(processes.count).kubeconfig")
            try server.kubeconfig(token: token, namespace: "inference").write(
                to: kubeconfig, atomically: true, encoding: .utf8)
            let log = directory.appendingPathComponent("\(token).log")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            let process = Process()
            process.executableURL = try CommandLineTests.binary()
            process.arguments =
                [
                    "run", "--kubeconfig", kubeconfig.path, "--namespace", "inference",
                    "--default-prometheus", prometheus.url.absoluteString, "--leader-elect",
                    "--leader-election-namespace", "inference",
                    "--leader-elect-lease-duration", String(LeaderElectionTests.leaseDuration),
                    "--leader-elect-renew-deadline", "4", "--leader-elect-retry-period", "1",
                    "--metrics-bind-address", "127.0.0.1:0", "--health-probe-bind-address", "127.0.0.1:0",
                ] + extra
            process.standardOutput = try FileHandle(forWritingTo: log)
            process.standardError = process.standardOutput
            try process.run()
            processes[token] = process
        }

        func log(_ token: String) -> String {
            (try? String(contentsOf: directory.appendingPathComponent("\(token).log"), encoding: .utf8)) ?? ""
        }

        var holder: String? {
            if case .string(let holder)? = server.object(
                resource: .leases, namespace: "inference", name: "inference-autoscaler-leader")?["spec"]?[
                    "holderIdentity"]
            {
                return holder
            }
            return nil
        }

        var replicas: Int? {
            if case .number(let value)? = server.object(resource: .deployments, namespace: "inference", name: "vllm")?[
                "spec"]?["replicas"]
            {
                return Int(value)
            }
            return nil
        }

        /// Tokens that wrote anything but the Lease since the recorded requests were last cleared.
        var writers: Set<String> {
            Set(
                server.requests.filter { request in
                    ["POST", "PUT", "PATCH", "DELETE"].contains(request.method) && !request.path.contains("/leases")
                }.compactMap(\.bearerToken))
        }

        /// Sets every pod's queue to `waiting`.
        func setWaiting(_ waiting: Double) {
            for index in 0..<2 {
                exporter.update(namespace: "inference", pod: "vllm-\(index)") { $0.waiting = waiting }
            }
        }

        func stop() async {
            for process in processes.values where process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            prometheus.stop()
            try? await exporter.stop()
            try? await server.stop()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    static func eventually(_ what: String, within seconds: Double, _ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            guard Date() < deadline else {
                Issue.record("timed out after \(seconds) s waiting for \(what)")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Which token's process holds the lease: the one that wrote the policy's status.
    static func leaderToken(_ rig: Rig) async throws -> String {
        try await eventually("a first reconcile", within: 30) { !rig.writers.isEmpty }
        let writers = rig.writers
        #expect(writers.count == 1, "both replicas wrote: \(writers)")
        return try #require(writers.first)
    }

    @Test func onlyTheLeaderWritesAndAKilledLeaderIsReplacedWithinTheLeaseDuration() async throws {
        let rig = try await Rig()
        do {
            try rig.start("token-a")
            try rig.start("token-b")
            let leader = try await Self.leaderToken(rig)
            let standby = leader == "token-a" ? "token-b" : "token-a"
            let leaderIdentity = try #require(rig.holder)

            // Load: the leader scales up; the standby writes nothing.
            rig.setWaiting(20)
            try await Self.eventually("a scale-up", within: 20) { (rig.replicas ?? 0) > 2 }
            try await Task.sleep(for: .seconds(2))
            #expect(rig.writers == [leader])

            // SIGKILL: no release. The standby takes the lease once it has not been renewed for a lease duration.
            let killed = Date()
            kill(rig.processes[leader]!.processIdentifier, SIGKILL)
            rig.processes[leader]!.waitUntilExit()
            rig.server.clearRequests()
            try await Self.eventually("the standby to take the lease", within: Self.leaseDuration + 4) {
                rig.holder != nil && rig.holder != leaderIdentity
            }
            let takeover = Date().timeIntervalSince(killed)
            #expect(takeover <= Self.leaseDuration + 2, "took \(takeover) s")
            #expect(takeover >= Self.leaseDuration - 2, "took the lease of a live-looking leader after \(takeover) s")

            // The new leader carries on from the state in status: less load, and it is the one that writes.
            let before = rig.replicas ?? 0
            rig.setWaiting(40)
            try await Self.eventually("the new leader to scale", within: 20) { (rig.replicas ?? 0) > before }
            #expect(rig.writers == [standby])
            #expect(rig.log(standby).contains("became the leader"))
        } catch {
            await rig.stop()
            throw error
        }
        await rig.stop()
    }

    @Test func sigtermReleasesTheLeaseAndTheStandbyLeadsWithinThreeSeconds() async throws {
        let rig = try await Rig()
        do {
            try rig.start("token-a")
            try rig.start("token-b")
            let leader = try await Self.leaderToken(rig)
            let leaderIdentity = try #require(rig.holder)

            let terminated = Date()
            rig.processes[leader]!.terminate()
            do {
                try await Self.eventually("the standby to lead", within: 5) {
                    rig.holder != nil && rig.holder != leaderIdentity
                }
            } catch {
                Issue.record("holder \(rig.holder ?? "none"); the leader's log:\n\(rig.log(leader))")
                throw error
            }
            #expect(Date().timeIntervalSince(terminated) < 3)
            try await Self.eventually("the old leader to exit", within: 10) { !rig.processes[leader]!.isRunning }
            #expect(rig.processes[leader]!.terminationStatus == 0, "\(rig.log(leader))")
            #expect(rig.log(leader).contains("released the lease"))
        } catch {
            await rig.stop()
            throw error
        }
        await rig.stop()
    }

    @Test func aLeaderThatCannotRenewStopsWritingAndExits() async throws {
        let rig = try await Rig()
        do {
            try rig.start("token-a")
            let leader = try await Self.leaderToken(rig)
            #expect(leader == "token-a")
            // Every request fails: the renewals too. Past the renew deadline the leader must give up and exit.
            rig.server.failNextRequests(100_000, status: 500)
            let failing = Date()
            try await Self.eventually("the leader to exit", within: 15) { !rig.processes[leader]!.isRunning }
            let elapsed = Date().timeIntervalSince(failing)
            #expect(elapsed >= 3, "gave up after \(elapsed) s, before its renew deadline")
            #expect(rig.processes[leader]!.terminationStatus == 1)
            #expect(rig.log(leader).contains("leadership lost"))
        } catch {
            rig.server.failNextRequests(0, status: 500)
            await rig.stop()
            throw error
        }
        rig.server.failNextRequests(0, status: 500)
        await rig.stop()
    }

    @Test func sigtermWaitsForTheReconcileInFlightAndASecondSignalExitsAtOnce() async throws {
        let rig = try await Rig()
        do {
            try rig.start("token-a", extra: ["--log-level", "trace"])
            _ = try await Self.leaderToken(rig)
            // Slow answers: a reconcile is always in flight, and graceful shutdown waits for it.
            rig.server.setResponseDelay(2)
            try await Task.sleep(for: .seconds(1))
            let process = rig.processes["token-a"]!
            let first = Date()
            process.terminate()
            try await Task.sleep(for: .milliseconds(300))
            #expect(process.isRunning, "exited without finishing the reconcile in flight")
            try await Self.eventually("a graceful exit", within: 15) { !process.isRunning }
            #expect(process.terminationStatus == 0, "\(rig.log("token-a"))")
            #expect(Date().timeIntervalSince(first) < 12)
            let log = rig.log("token-a")
            #expect(log.contains("shutting down") && log.contains("stopped"))
            // Trace-level logs name requests, never the bearer token.
            #expect(!log.contains("token-a"), "the token was logged")

            // Again, with a second signal during the graceful shutdown: out at once.
            rig.server.setResponseDelay(0)
            try rig.start("token-b", extra: ["--shutdown-timeout", "30"])
            try await Self.eventually("the second replica to lead", within: 20) {
                rig.log("token-b").contains("became the leader")
            }
            rig.server.setResponseDelay(8)
            try await Task.sleep(for: .seconds(1.5))
            let second = rig.processes["token-b"]!
            second.terminate()
            try await Task.sleep(for: .milliseconds(300))
            #expect(second.isRunning)
            let again = Date()
            second.terminate()
            try await Self.eventually("the exit on the second signal", within: 3) { !second.isRunning }
            #expect(Date().timeIntervalSince(again) < 2)
            #expect(second.terminationStatus == 1)
            rig.server.setResponseDelay(0)
        } catch {
            rig.server.setResponseDelay(0)
            await rig.stop()
            throw error
        }
        await rig.stop()
    }
}
