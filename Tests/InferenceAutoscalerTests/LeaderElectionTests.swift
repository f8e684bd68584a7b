import Foundation
import KubernetesModel
import KubernetesTestServer
import MetricsFixture
import PrometheusTestSupport
import Testing

/// Two `inference-autoscaler run --leader-elect` processes against one API server and one Lease: only the holder
/// writes, a killed leader is replaced once its lease runs out, and a terminated one hands over at once.
@Suite(.serialized, .timeLimit(.minutes(3))) struct LeaderElectionTests {
    /// Long next to the 1 s retry period, so that "at once" and "after the lease ran out" stay seconds apart however
    /// loaded the machine.
    static let leaseDuration = 10.0

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

        /// When the current holder took the lease, by its own clock (the Lease's `spec.acquireTime`).
        var acquired: Date? {
            if case .string(let time)? = server.object(
                resource: .leases, namespace: "inference", name: "inference-autoscaler-leader")?["spec"]?["acquireTime"]
            {
                return Timestamp.parse(time)
            }
            return nil
        }

        /// When `identity` last acquired or renewed the lease (a create or an update the server accepted), by that
        /// replica's clock.
        func lastRenewal(by identity: String) -> Date? {
            server.requests.filter {
                ["POST", "PUT"].contains($0.method) && $0.path.contains("/leases") && (200..<300).contains($0.status)
            }
            .compactMap { request -> Date? in
                guard let body = try? JSONDecoder().decode(JSONValue.self, from: request.body),
                    case .string(identity)? = body["spec"]?["holderIdentity"],
                    case .string(let time)? = body["spec"]?["renewTime"]
                else { return nil }
                return Timestamp.parse(time)
            }.last
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
            try await Self.eventually("the standby to take the lease", within: 3 * Self.leaseDuration) {
                rig.holder != nil && rig.holder != leaderIdentity
            }
            // Not early: this task may see the takeover late on a loaded machine, never before it happened.
            let seen = Date().timeIntervalSince(killed)
            #expect(seen >= Self.leaseDuration - 2, "took the lease of a live-looking leader after \(seen) s")
            // Not a second lease duration later, by the standby's own stamp rather than by when this task looked: its
            // 1 s retries and a loaded machine add far less than the lease duration between the two.
            let takeover = try #require(rig.acquired).timeIntervalSince(killed)
            #expect(takeover < 2 * Self.leaseDuration, "took \(takeover) s")

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

    @Test func sigtermReleasesTheLeaseAndTheStandbyLeadsBeforeItWouldHaveRunOut() async throws {
        let rig = try await Rig()
        do {
            try rig.start("token-a")
            try rig.start("token-b")
            let leader = try await Self.leaderToken(rig)
            let leaderIdentity = try #require(rig.holder)

            rig.processes[leader]!.terminate()
            do {
                try await Self.eventually("the standby to lead", within: 3 * Self.leaseDuration) {
                    rig.holder != nil && rig.holder != leaderIdentity
                }
            } catch {
                Issue.record("holder \(rig.holder ?? "none"); the leader's log:\n\(rig.log(leader))")
                throw error
            }
            // Released, the lease went to the standby at its next try (1 s): by the two replicas' own stamps, well
            // before the old lease would have run out, which is when a standby takes an unreleased lease.
            let renewed = try #require(rig.lastRenewal(by: leaderIdentity))
            let handover = try #require(rig.acquired).timeIntervalSince(renewed)
            #expect(
                handover < Self.leaseDuration - 2, "the standby took the lease \(handover) s after its last renewal")
            try await Self.eventually("the old leader to exit", within: 30) { !rig.processes[leader]!.isRunning }
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
            try await Self.eventually("the leader to exit", within: 30) { !rig.processes[leader]!.isRunning }
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
            try await Self.eventually("a graceful exit", within: 30) { !process.isRunning }
            // Exited by itself, 0: finished before the 20 s --shutdown-timeout, which would have cut it short with 1.
            #expect(process.terminationReason == .exit)
            #expect(process.terminationStatus == 0, "\(rig.log("token-a"))")
            let log = rig.log("token-a")
            #expect(log.contains("shutting down") && log.contains("stopped"))
            // It worked on after the signal rather than exiting at it: its "stopped" comes at least one held-back
            // answer (2 s) after the signal was sent, by the log's own clock (a loaded machine only makes it later).
            let stopped = log.split(separator: "\n").last { $0.hasSuffix(": stopped") }
            let stoppedAt = try #require(stopped.flatMap { Timestamp.parse(String($0.prefix { $0 != " " })) })
            #expect(stoppedAt.timeIntervalSince(first) >= 1.99, "exited at the signal, leaving its work in flight")
            // Trace-level logs name requests, never the bearer token.
            #expect(!log.contains("token-a"), "the token was logged")

            // Again, with a second signal during the graceful shutdown: out at once. Answers held back 20 s (under the
            // 30 s request timeout) keep the graceful shutdown going for at least that long (its release of the lease
            // waits for one), and the 2-minute --shutdown-timeout does not cut it short first.
            rig.server.setResponseDelay(0)
            try rig.start("token-b", extra: ["--shutdown-timeout", "120"])
            try await Self.eventually("the second replica to lead", within: 30) {
                rig.log("token-b").contains("became the leader")
            }
            rig.server.setResponseDelay(20)
            try await Task.sleep(for: .seconds(1.5))
            let second = rig.processes["token-b"]!
            second.terminate()
            try await Self.eventually("the graceful shutdown to start", within: 15) {
                rig.log("token-b").contains("shutting down")
            }
            #expect(second.isRunning)
            second.terminate()
            // Out by the second signal (exit 1, said so), within seconds where the graceful shutdown takes 20 s or more.
            try await Self.eventually("the exit on the second signal", within: 15) { !second.isRunning }
            #expect(second.terminationStatus == 1)
            #expect(rig.log("token-b").contains("second signal: exiting now"), "\(rig.log("token-b"))")
            rig.server.setResponseDelay(0)
        } catch {
            rig.server.setResponseDelay(0)
            await rig.stop()
            throw error
        }
        await rig.stop()
    }
}
