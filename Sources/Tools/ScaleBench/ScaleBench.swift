import ArgumentParser
import ControllerOptions
import Foundation
import KubernetesModel
import KubernetesTestServer
import PrometheusTestSupport

/// `make bench-scale`: what the controller costs as policies grow. For each N: the test API server with N
/// Deployments (two ready pods each) and N policies, a fixture answering Prometheus queries, and the controller's
/// release build as its own process, measured over a fixed window at 15 s polling.
struct ScaleBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale-bench", abstract: "Measure the controller's cost at 1 to 10,000 policies.")

    @Option(parsing: .upToNextOption, help: "Policy counts to measure.")
    var policies: [Int] = [1, 100, 1_000, 10_000]

    @Option(help: "Seconds measured per count, after the first round of reconciles.")
    var seconds = 60.0

    @Option(
        help: "Pods of other workloads, in namespaces without policies (1,000 per namespace), as in a shared cluster.")
    var unrelatedPods = 0

    @Option(help: "Reaction latency samples per count.")
    var reactions = 8

    @Option(help: "The controller binary (a release build).")
    var controller: String

    @Option(help: "Where scale.md goes.")
    var out = "bench/results"

    @Option(
        parsing: .upToNextOption,
        help: "Policy counts to measure on a real control plane (../shared/kube): the steady state's requests by verb.")
    var controlPlanePolicies: [Int] = []

    @Option(help: "Seconds measured per count on the real control plane.")
    var controlPlaneSeconds = 120.0

    /// Passed on to the controller; the bench fills in where the API server and Prometheus are.
    @OptionGroup(title: "Controller") var controllerOptions: ControllerOptions

    func run() async throws {
        let command = CommandLine.arguments.dropFirst().joined(separator: " ")
        if !controlPlanePolicies.isEmpty {
            var rows: [ControlPlaneRow] = []
            for count in controlPlanePolicies {
                FileHandle.standardError.write(Data("measuring \(count) policies on a real control plane…\n".utf8))
                let row = try await Self.measureOnControlPlane(
                    policies: count, seconds: controlPlaneSeconds, controller: controller, options: controllerOptions)
                FileHandle.standardError.write(
                    Data("  writes/min \(row.writesPerMinute), \(row.perMinute.sorted { $0.key < $1.key })\n".utf8))
                rows.append(row)
            }
            try Self.controlPlaneReport(rows, command: command)
                .write(toFile: "\(out)/scale-control-plane.md", atomically: true, encoding: .utf8)
        }
        // `--policies 0`: the real control plane only.
        guard policies.contains(where: { $0 > 0 }) else { return }
        var rows: [Row] = []
        for count in policies where count > 0 {
            FileHandle.standardError.write(Data("measuring \(count) policies…\n".utf8))
            let row = try await Self.measure(
                policies: count, seconds: seconds, reactions: reactions, controller: controller,
                unrelatedPods: unrelatedPods, options: controllerOptions)
            FileHandle.standardError.write(Data("  \(row.cells.joined(separator: " | "))\n".utf8))
            rows.append(row)
        }
        try Self.report(rows, seconds: seconds, unrelatedPods: unrelatedPods, command: command)
            .write(toFile: "\(out)/scale.md", atomically: true, encoding: .utf8)
    }

    struct Row {
        var policies: Int
        var cpuSecondsPerMinute: Double
        var peakRSSMiB: Double
        /// VmRSS at the end of the run: the steady state, after start-up's code pages were released.
        var endRSSMiB: Double
        var apiPerMinute: [String: Double]
        var writesPerMinute: Double
        var queriesPerMinute: Double
        var queriesPerRound: Double
        var reconcileP50: Double?
        var reconcileP99: Double?
        var reaction: [Double]
        var firstRound: Double
        /// Where the resident memory is at the end of the run: (mapping, MiB), largest first.
        var resident: [(String, Double)]

        var cells: [String] {
            var verbs = apiPerMinute.sorted { $0.key < $1.key }.map { "\($0.key) \(Int($0.value.rounded()))" }
            if verbs.isEmpty { verbs = ["none"] }
            return [
                "\(policies)", String(format: "%.2f", cpuSecondsPerMinute / 60), String(format: "%.1f", peakRSSMiB),
                String(format: "%.1f", endRSSMiB),
                verbs.joined(separator: ", "), String(format: "%.0f", writesPerMinute),
                String(format: "%.0f", queriesPerMinute), String(format: "%.1f", queriesPerRound),
                Self.latency(reconcileP50), Self.latency(reconcileP99),
                Self.latency(Self.quantile(reaction, 0.5)), Self.latency(Self.quantile(reaction, 0.99)),
                String(format: "%.0f s", firstRound),
            ]
        }

        static func latency(_ value: Double?) -> String {
            guard let value else { return "–" }
            return value < 1 ? String(format: "%.0f ms", value * 1000) : String(format: "%.1f s", value)
        }

        static func quantile(_ values: [Double], _ q: Double) -> Double? {
            guard !values.isEmpty else { return nil }
            let sorted = values.sorted()
            return sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.up)) - 1)]
        }
    }

    static func measure(
        policies count: Int, seconds: Double, reactions: Int, controller binary: String, unrelatedPods: Int = 0,
        options: ControllerOptions
    ) async throws
        -> Row
    {
        let perNamespace = 100
        let namespaces = (0..<max(1, (count + perNamespace - 1) / perNamespace)).map { "bench-\($0)" }
        let others = (0..<((unrelatedPods + unrelatedPerNamespace - 1) / unrelatedPerNamespace)).map { "other-\($0)" }
        let server = try await TestAPIServer.start(
            .init(
                bookmarkInterval: 60, compactionLimit: 200_000, initialNamespaces: ["default"] + namespaces + others))
        let prometheus = FixturePrometheus(steady: 5, hot: 40)
        let prometheusServer = try await prometheus.serve()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "scale-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let stamp = Timestamp.format(Date().addingTimeInterval(-3600))
        for index in 0..<count {
            let namespace = namespaces[index / perNamespace]
            let name = "model-\(index)"
            var deployment = try json(
                #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"\#(name)","namespace":"\#(namespace)"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"\#(name)"}},"template":{"metadata":{"labels":{"app":"\#(name)"}},"spec":{"containers":[{"name":"vllm","image":"vllm"}]}}}}"#
            )
            deployment = try server.create(deployment, resource: .deployments)
            deployment.setValue(try json(#"{"replicas":2,"readyReplicas":2}"#), at: "status")
            try server.update(deployment, resource: .deployments, subresource: "status")
            prometheus.state.withLock { $0.pods[namespace, default: []] += ["\(name)-0", "\(name)-1"] }
            for replica in 0..<2 {
                var pod = try server.create(
                    try json(
                        #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)-\#(replica)","namespace":"\#(namespace)","labels":{"app":"\#(name)"}},"spec":{"containers":[{"name":"vllm","image":"vllm"}]}}"#
                    ),
                    resource: .pods)
                pod.setValue(
                    try json(
                        #"{"phase":"Running","conditions":[{"type":"Ready","status":"True","lastTransitionTime":"\#(stamp)"}]}"#
                    ),
                    at: "status")
                try server.update(pod, resource: .pods, subresource: "status")
            }
            try server.create(
                try json(
                    #"{"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy","metadata":{"name":"\#(name)","namespace":"\#(namespace)"},"spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"\#(name)"},"minReplicas":1,"maxReplicas":10,"pollingInterval":"15s","signals":[{"type":"QueueDepth","target":5}],"behavior":{"scaleUp":{"stabilizationWindow":"0s"}}}}"#
                ),
                resource: .inferenceAutoscalePolicies)
        }

        try createUnrelatedPods(unrelatedPods, in: server, stamp: stamp)

        let kubeconfig = directory.appendingPathComponent("kubeconfig").path
        try server.kubeconfig(token: "test-token").write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        let metricsPort = try PrometheusServer.freePort()
        var options = options
        options.kubeconfig = kubeconfig
        let (process, log) = try controllerProcess(
            binary, options: options, prometheus: prometheusServer.url, metricsPort: metricsPort, directory: directory)
        let started = Date()
        try process.run()
        defer {
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }

        // The first round: every policy has a status.
        while server.objects(resource: .inferenceAutoscalePolicies).contains(where: { $0["status"] == nil }) {
            guard process.isRunning else {
                throw ValidationError("the controller exited: \(try String(contentsOf: log, encoding: .utf8))")
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        let firstRound = Date().timeIntervalSince(started)
        try await Task.sleep(for: .seconds(15))

        // The steady window: nothing changes, so nothing should be written.
        server.clearRequests()
        prometheus.state.withLock { $0.queries = 0 }
        let cpuBefore = cpuSeconds(process.processIdentifier)
        let windowStart = Date()
        try await Task.sleep(for: .seconds(seconds))
        let elapsed = Date().timeIntervalSince(windowStart)
        let cpu = cpuSeconds(process.processIdentifier) - cpuBefore
        let requests = server.requests
        let queries = Double(prometheus.state.withLock { $0.queries })
        var verbs: [String: Double] = [:]
        for request in requests {
            let verb: String
            switch request.method {
            case "GET":
                verb = request.isWatch ? "watch" : (request.path.split(separator: "/").count % 2 == 0 ? "get" : "list")
            case "POST": verb = "create"
            case "PUT": verb = "update"
            default: verb = request.method.lowercased()
            }
            verbs[verb, default: 0] += 60 / elapsed
        }
        let written = requests.filter { ["POST", "PUT", "PATCH", "DELETE"].contains($0.method) }
        let writes = Double(written.count) * 60 / elapsed
        if ProcessInfo.processInfo.environment["SCALE_BENCH_DEBUG"] != nil {
            for write in written.prefix(2) {
                FileHandle.standardError.write(
                    Data(
                        "  steady-state write: \(write.method) \(write.path) \(String(decoding: write.body, as: UTF8.self))\n"
                            .utf8))
            }
        }

        // Reactions: one policy at a time, its queue crosses the target; the clock runs until its /scale patch.
        var reaction: [Double] = []
        // One policy crosses once: a second crossing of the same one would meet its own scale-down window.
        for attempt in 0..<min(reactions, count) {
            let index = count == 1 ? 0 : (attempt * 7_919) % count
            let namespace = namespaces[index / perNamespace]
            let name = "model-\(index)"
            let crossed = Date()
            prometheus.state.withLock { $0.hotPods = ["\(name)-0", "\(name)-1"] }
            while Date().timeIntervalSince(crossed) < 40 {
                if case .number(let replicas)? = server.object(
                    resource: .deployments, namespace: namespace, name: name)?["spec"]?["replicas"],
                    replicas > 2
                {
                    reaction.append(Date().timeIntervalSince(crossed))
                    break
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            if ProcessInfo.processInfo.environment["SCALE_BENCH_DEBUG"] != nil {
                let status = server.object(resource: .inferenceAutoscalePolicies, namespace: namespace, name: name)?[
                    "status"]
                FileHandle.standardError.write(Data("  after the crossing: \(String(describing: status))\n".utf8))
            }
            prometheus.state.withLock { $0.hotPods = [] }
            if var deployment = server.object(resource: .deployments, namespace: namespace, name: name) {
                // Back to two, as if the load had gone, so that the same policy can cross again (N = 1).
                deployment.setValue(
                    try json(
                        #"{"replicas":2,"selector":{"matchLabels":{"app":"\#(name)"}},"template":{"metadata":{"labels":{"app":"\#(name)"}},"spec":{"containers":[{"name":"vllm","image":"vllm"}]}}}"#
                    ),
                    at: "spec")
                deployment.setValue(nil, at: "metadata.resourceVersion")
                _ = try? server.update(deployment, resource: .deployments)
            }
            // A random moment within the next polling interval.
            try await Task.sleep(for: .seconds(Double.random(in: 1..<15)))
        }
        let rss = statusMiB(process.processIdentifier, "VmHWM")
        let endRSS = statusMiB(process.processIdentifier, "VmRSS")
        let resident = residentByMapping(process.processIdentifier)
        let histogram = await reconcileHistogram(port: metricsPort)
        process.terminate()
        process.waitUntilExit()
        await prometheusServer.stop()
        try await server.stop()
        return Row(
            policies: count, cpuSecondsPerMinute: cpu * 60 / elapsed, peakRSSMiB: rss, endRSSMiB: endRSS,
            apiPerMinute: verbs,
            writesPerMinute: writes, queriesPerMinute: queries * 60 / elapsed, queriesPerRound: queries * 15 / elapsed,
            reconcileP50: quantile(histogram, 0.5), reconcileP99: quantile(histogram, 0.99), reaction: reaction,
            firstRound: firstRound, resident: resident)
    }

    /// The controller as its own process, logging to `directory/controller.log`, with the bench's own defaults: quiet
    /// logs, and an API budget that 10,000 policies' first round fits in.
    static func controllerProcess(
        _ binary: String, options: ControllerOptions, prometheus: String, metricsPort: Int, directory: URL
    ) throws -> (Process, URL) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        var options = options
        options.defaultPrometheus = prometheus
        options.metricsBindAddress = "127.0.0.1:\(metricsPort)"
        options.healthProbeBindAddress = "127.0.0.1:\(try PrometheusServer.freePort())"
        let defaults = ControllerOptions.defaults
        if options.logLevel == defaults.logLevel { options.logLevel = "warning" }
        if options.kubeApiQps == defaults.kubeApiQps { options.kubeApiQps = 100 }
        if options.kubeApiBurst == defaults.kubeApiBurst { options.kubeApiBurst = 200 }
        process.arguments = options.arguments
        let log = directory.appendingPathComponent("controller.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = process.standardOutput
        return (process, log)
    }

    /// utime + stime of a process, in seconds.
    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime 14 and stime 15 (1-based over the whole line).
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// A memory line of `/proc/PID/status` (VmHWM, the peak resident set; VmRSS, the current one), MiB.
    static func statusMiB(_ pid: Int32, _ field: String) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("\(field):") }),
            let kib = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kib / 1024
    }

    /// Resident memory by mapping from `/proc/PID/smaps`: the binary, each shared library by file name, and
    /// "anonymous" (heap, thread stacks, relocated data).
    static func residentByMapping(_ pid: Int32) -> [(String, Double)] {
        // Not String(contentsOfFile:): procfs reports a size of 0, and Foundation then reads only a first block.
        guard let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/smaps") else { return [] }
        defer { try? handle.close() }
        var data = Data()
        while let chunk = try? handle.read(upToCount: 1 << 16), !chunk.isEmpty { data.append(chunk) }
        let text = String(decoding: data, as: UTF8.self)
        var kib: [String: Double] = [:]
        var mapping = "anonymous"
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), first.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                // `start-end perms offset dev inode [path]`
                mapping =
                    fields.count > 5 && fields[5].hasPrefix("/")
                    ? String(fields[5].split(separator: "/").last!) : "anonymous"
            } else if fields.first == "Rss:", fields.count > 1, let value = Double(fields[1]) {
                kib[mapping, default: 0] += value
            }
        }
        return kib.map { ($0.key, $0.value / 1024) }.sorted { $0.1 > $1.1 }
    }

    /// The controller's reconcile-duration histogram from its `/metrics`: (upper bound, cumulative count).
    static func reconcileHistogram(port: Int) async -> [(Double, Double)] {
        guard
            let output = try? runProcess(
                "/usr/bin/curl", ["-s", "--max-time", "5", "http://127.0.0.1:\(port)/metrics"])
        else { return [] }
        var buckets: [(Double, Double)] = []
        for line in output.split(separator: "\n")
        where line.hasPrefix("inference_autoscaler_reconcile_duration_seconds_bucket") {
            guard let le = line.range(of: #"le=""#), let end = line[le.upperBound...].firstIndex(of: "\""),
                let count = Double(line.split(separator: " ").last ?? "")
            else { continue }
            let bound = String(line[le.upperBound..<end])
            buckets.append((bound == "+Inf" ? .infinity : Double(bound) ?? .infinity, count))
        }
        return buckets.sorted { $0.0 < $1.0 }
    }

    /// The upper bound of the bucket holding quantile `q` (as coarse as the buckets).
    static func quantile(_ buckets: [(Double, Double)], _ q: Double) -> Double? {
        guard let total = buckets.last?.1, total > 0 else { return nil }
        return buckets.first { $0.1 >= q * total }?.0
    }

    static func report(_ rows: [Row], seconds: Double, unrelatedPods: Int = 0, command: String) -> String {
        var text = """
            # Controller cost at scale

            Made by `make bench-scale` (`inference-tools \(command)`), on this repository's 2-core machine. For each policy
            count N: the test API server (in the benchmark's process) with N Deployments of two ready pods and N
            policies (QueueDepth, 15 s polling, 100 per namespace); a fixture answering Prometheus' query API (a stand-in:
            the real Prometheus is not what is measured here) with a value at target, so that nothing changes; and the
            controller as shipped (the Dockerfile's build: release, Swift runtime linked in, lld with packed relative
            relocations, the functions it runs placed first, libcurl and OpenSSL linked in) as its own process. Measured over \(Int(seconds)) s after the first round of
            reconciles and one more polling interval; meanwhile one policy's queue crosses its target at a time, and the
            reaction latency runs from that moment to the `/scale` patch. Reconcile latency is read from the controller's
            own histogram (bucket upper bounds). CPU is the controller process's user + system time. The controller runs with
            `--kube-api-qps 100 --kube-api-burst 200` (the default 20 would make the first round of 10,000 status writes
            take 500 s; a steady state makes no request either way). The cluster also holds \(unrelatedPods) pods of other
            workloads (1,000 per namespace, in namespaces without policies, each shaped like a real pod with managed
            fields and a full spec and status), which the controller must not pay for.

            | policies | CPU (cores) | peak RSS (MiB) | RSS at the end (MiB) | API requests / min by verb | API writes / min | Prometheus queries / min | queries / poll round | reconcile p50 | reconcile p99 | reaction p50 | reaction p99 | first round |
            | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |

            """
        for row in rows { text += "| " + row.cells.joined(separator: " | ") + " |\n" }
        text += "\nTargets (issue 9; memory, with the unrelated pods, issue 16):\n\n"
        func verdict(_ met: Bool) -> String { met ? "met" : "**missed**" }
        if let top = rows.max(by: { $0.policies < $1.policies }) {
            let namespaces = Double(max(1, (top.policies + 99) / 100))
            let p99 = Row.quantile(top.reaction, 0.99) ?? .infinity
            text +=
                "- \(top.policies) policies: CPU \(String(format: "%.2f", top.cpuSecondsPerMinute / 60)) cores, "
                + "target < 0.5: \(verdict(top.cpuSecondsPerMinute / 60 < 0.5)); peak RSS "
                + "\(String(format: "%.0f", top.peakRSSMiB)) MiB, target <= 200: \(verdict(top.peakRSSMiB <= 200)); reaction p99 "
                + "\(Row.latency(p99)), target < 17 s (polling + 2 s): \(verdict(p99 < 17)); "
                + "\(String(format: "%.1f", top.queriesPerRound / namespaces)) queries per round per namespace and signal, "
                + "target a few: \(verdict(top.queriesPerRound / namespaces <= 3)); "
                + "\(Int(top.writesPerMinute.rounded())) API writes per minute in the steady state, target 0: "
                + "\(verdict(top.writesPerMinute == 0)).\n"
        }
        if let one = rows.first(where: { $0.policies == 1 }) {
            text +=
                "- 1 policy: RSS at the end of the run \(String(format: "%.1f", one.endRSSMiB)) MiB, target <= 25: "
                + "\(verdict(one.endRSSMiB <= 25)); peak RSS \(String(format: "%.1f", one.peakRSSMiB)) MiB, target <= 25: "
                + "\(verdict(one.peakRSSMiB <= 25)). The peak is start-up's: in its first 50 ms the controller maps "
                + "most of the code it will ever run plus flag parsing, the kubeconfig and TLS set-up, and this "
                + "machine's kernel (6.18) maps a whole large page-cache folio at each fault; 20 s after the caches "
                + "synced the controller pages its read-only file mappings out (they fault back in page by page), "
                + "which is the steady state the end of the run shows.\n"
            let top = one.resident.prefix(8).map { "\($0.0) \(String(format: "%.1f", $0.1))" }
            let rest = one.resident.dropFirst(8)
            text +=
                "- Resident memory at 1 policy by mapping at the end of the run (MiB, from `/proc/PID/smaps`): "
                + (top
                + (rest.isEmpty
                    ? [] : ["\(rest.count) others \(String(format: "%.1f", rest.reduce(0) { $0 + $1.1 }))"]))
                .joined(separator: ", ")
                + ". All but `anonymous` (heap, thread stacks) is file-backed: code and read-only data of the binary "
                + "(Swift runtime, Foundation, NIO, libcurl and OpenSSL linked in) and of libc and libstdc++, counted in RSS once "
                + "mapped and shared with every other process that maps the same files.\n"
        }
        return text
    }
}

func json(_ text: String) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
}

extension ScaleBench {
    static let unrelatedPerNamespace = 1_000

    /// Pods of other teams' workloads, shaped like a real pod (managed fields, a container with env, resources,
    /// probes and mounts, a full status), 1,000 per namespace, in namespaces that have no policy.
    static func createUnrelatedPods(_ count: Int, in server: TestAPIServer, stamp: String) throws {
        for index in 0..<count {
            let namespace = "other-\(index / unrelatedPerNamespace)"
            let name = "web-\(index / 3)-5d8f9c7b6-\(String(index, radix: 36))"
            var pod = try json(
                #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)","namespace":"\#(namespace)","labels":{"app":"web-\#(index / 3)","pod-template-hash":"5d8f9c7b6","team":"storefront"},"annotations":{"kubectl.kubernetes.io/restartedAt":"\#(stamp)","prometheus.io/scrape":"true"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-\#(index / 3)-5d8f9c7b6","uid":"0b6f3f3e-1c1d-4a39-9a8e-\#(String(format: "%012d", index))","controller":true,"blockOwnerDeletion":true}],"managedFields":[{"manager":"kube-controller-manager","operation":"Update","apiVersion":"v1","time":"\#(stamp)","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:generateName":{},"f:labels":{".":{},"f:app":{},"f:pod-template-hash":{}},"f:ownerReferences":{}},"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:env":{},"f:image":{},"f:ports":{},"f:resources":{}}}}}},{"manager":"kubelet","operation":"Update","apiVersion":"v1","time":"\#(stamp)","fieldsType":"FieldsV1","fieldsV1":{"f:status":{"f:conditions":{},"f:containerStatuses":{},"f:hostIP":{},"f:phase":{},"f:podIP":{},"f:startTime":{}}},"subresource":"status"}]},"spec":{"containers":[{"name":"web","image":"registry.example.com/storefront/web:1.42.7","ports":[{"containerPort":8080,"protocol":"TCP"}],"env":[{"name":"LOG_LEVEL","value":"info"},{"name":"DATABASE_URL","valueFrom":{"secretKeyRef":{"name":"db","key":"url"}}},{"name":"POD_NAME","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}],"resources":{"requests":{"cpu":"250m","memory":"256Mi"},"limits":{"memory":"512Mi"}},"readinessProbe":{"httpGet":{"path":"/healthz","port":8080},"periodSeconds":10},"volumeMounts":[{"name":"kube-api-access","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","readOnly":true}]}],"volumes":[{"name":"kube-api-access","projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}}]}}],"nodeName":"node-\#(index % 200)","serviceAccountName":"default","tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]}}"#
            )
            pod = try server.create(pod, resource: .pods)
            pod.setValue(
                try json(
                    #"{"phase":"Running","hostIP":"10.0.\#(index % 200).1","podIP":"10.1.\#(index / 250 % 250).\#(index % 250)","startTime":"\#(stamp)","conditions":[{"type":"Initialized","status":"True","lastTransitionTime":"\#(stamp)"},{"type":"Ready","status":"True","lastTransitionTime":"\#(stamp)"},{"type":"ContainersReady","status":"True","lastTransitionTime":"\#(stamp)"},{"type":"PodScheduled","status":"True","lastTransitionTime":"\#(stamp)"}],"containerStatuses":[{"name":"web","ready":true,"restartCount":0,"image":"registry.example.com/storefront/web:1.42.7","imageID":"registry.example.com/storefront/web@sha256:4f1c2e","containerID":"containerd://\#(String(format: "%064d", index))","started":true,"state":{"running":{"startedAt":"\#(stamp)"}}}]}"#
                ),
                at: "status")
            try server.update(pod, resource: .pods, subresource: "status")
        }
    }
}
