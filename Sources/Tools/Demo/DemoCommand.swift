import ArgumentParser
import ControllerOptions
import Foundation
import KubernetesClient
import KubernetesModel
import Logging
import PolicyFiles
import PrometheusTestSupport
import Simulator
import Synchronization

/// `make demo`: the whole loop on this machine. A test API server with the CRD and a Deployment, simulated vLLM pods
/// that follow the Deployment and serve their own `/metrics`, a real Prometheus that discovers them through
/// `file_sd`, and the controller itself, with a policy applied through the API; a live view while load rises and
/// falls, then a summary and a chart in the output directory.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the autoscaler end to end on this machine against simulated vLLM pods.")

    @Option(help: "Length of the load pattern in minutes (the Makefile passes DEMO_MINUTES).")
    var minutes = 5.0

    @Flag(help: "After the load pattern, keep everything running at the quiet rate until Ctrl-C.")
    var keepRunning = false

    @Option(help: "Where the kubeconfig, logs, chart and summary go.")
    var out = "demo-out"

    @Option(help: "The policy to apply (as `kubectl create -f` would).")
    var policy = "config/samples/demo.yaml"

    @Option(help: "The CRD to install.")
    var crd = "crds/autoscaling.inference.dev_inferenceautoscalepolicies.yaml"

    @Option(help: "The controller binary (default: inference-autoscaler next to this program).")
    var controller: String?

    @Option(help: "Seconds from pod creation to Ready (a real GPU pod takes minutes; shortened for the demo).")
    var coldStart = 20.0

    @Option(help: "Requests per second when quiet.")
    var baseRate = 8.0

    @Option(help: "Requests per second at the peak.")
    var peakRate = 60.0

    @Option(help: "The TTFT SLO in seconds the summary counts (the demo policy's TTFT target).")
    var sloTTFT = 0.5

    @Option(help: "Prometheus' scrape interval in seconds.")
    var scrapeInterval = 2.0

    @Flag(help: "One line per refresh instead of a view redrawn in place.")
    var plain = false

    /// Passed on to the controller; the demo fills in where its API server and Prometheus are.
    @OptionGroup(title: "Controller") var controllerOptions: ControllerOptions

    func validate() throws {
        guard minutes > 0 else { throw ValidationError("--minutes must be positive") }
        guard coldStart >= 0 else { throw ValidationError("--cold-start must not be negative") }
        guard peakRate >= baseRate, baseRate >= 0 else {
            throw ValidationError("--peak-rate must be at least --base-rate, and both non-negative")
        }
        guard scrapeInterval >= 1 else { throw ValidationError("--scrape-interval must be at least 1 second") }
        for (flag, path) in [("--policy", policy), ("--crd", crd)] where !FileManager.default.fileExists(atPath: path) {
            throw ValidationError("\(flag): no such file: \(path) (run the demo from the repository's top directory)")
        }
    }

    func run() async throws {
        let stopRequested = Atomic<Bool>(false)
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let signalSources = [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { stopRequested.store(true, ordering: .relaxed) }
            source.resume()
            return source
        }
        defer { signalSources.forEach { $0.cancel() } }

        let outDirectory = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outDirectory, withIntermediateDirectories: true)
        let controllerBinary = controller ?? Self.siblingExecutable("inference-autoscaler")
        guard FileManager.default.isExecutableFile(atPath: controllerBinary) else {
            throw ValidationError("the controller binary is missing: \(controllerBinary) (`make demo` builds it)")
        }
        var view = LiveView(
            redraw: !plain && isatty(STDOUT_FILENO) != 0, duration: keepRunning ? nil : minutes * 60,
            phases: LoadPattern(duration: minutes * 60, baseRate: baseRate, peakRate: peakRate).phases)

        view.note(
            "[1/5] starting the API server (the CRD, namespace \(DemoCluster.namespace), Deployment \(DemoCluster.deployment))"
        )
        let cluster = try await DemoCluster.start(crdPath: crd)
        let kubeconfigPath = outDirectory.appendingPathComponent("kubeconfig").path
        try cluster.kubeconfig().write(toFile: kubeconfigPath, atomically: true, encoding: .utf8)
        let targetsFile = outDirectory.appendingPathComponent("targets.json")
        try Data("[]".utf8).write(to: targetsFile, options: .atomic)

        var prometheus: PrometheusServer?
        var controllerProcess: ChildProcess?
        var fleet: DemoFleet?
        do {
            view.note("[2/5] starting Prometheus (file_sd: \(targetsFile.path))")
            let server = try await PrometheusServer.start(
                configuration: Self.prometheusConfiguration(targets: targetsFile.path, interval: scrapeInterval),
                logFile: outDirectory.appendingPathComponent("prometheus.log").path)
            prometheus = server

            view.note("[3/5] starting the controller: \(controllerBinary) run")
            var options = controllerOptions
            options.kubeconfig = kubeconfigPath
            options.namespaces = [DemoCluster.namespace]
            options.defaultPrometheus = server.url.absoluteString
            options.metricsBindAddress = "127.0.0.1:\(try PrometheusServer.freePort())"
            options.healthProbeBindAddress = "127.0.0.1:\(try PrometheusServer.freePort())"
            controllerProcess = try ChildProcess(
                name: "controller", executable: controllerBinary, arguments: options.arguments,
                logFile: outDirectory.appendingPathComponent("controller.log").path)

            let pattern = LoadPattern(duration: minutes * 60, baseRate: baseRate, peakRate: peakRate)
            var profile = PodProfile.llama3_8b_h100
            profile.coldStart = coldStart
            profile.coldStartJitter = coldStart * 0.2
            let demoFleet = DemoFleet(
                load: pattern.segments(extra: keepRunning ? 7 * 86_400 : 0), profile: profile, sloTTFT: sloTTFT,
                cluster: cluster, targetsFile: targetsFile)
            fleet = demoFleet
            try await demoFleet.step(to: 0)
            // Two scrapes, so that rates (the TTFT quantile) exist when the controller first reads them.
            try await server.waitForSeries("rate(vllm:generation_tokens_total[1m])", timeout: 30)

            view.note("[4/5] applying \(policy)")
            let policyName = try await Self.applyPolicy(path: policy, kubeconfig: kubeconfigPath)
            let kubectl = "kubectl --kubeconfig \(out)/kubeconfig -n \(DemoCluster.namespace)"
            view.note("      watch it:  \(kubectl) get iap   ·   \(kubectl) describe iap \(policyName)")
            view.note("      Prometheus: \(server.url.absoluteString)")

            view.note(
                "[5/5] load: \(Int(baseRate)) req/s, up to \(Int(peakRate)) req/s and back; Ctrl-C ends the demo early")

            var record = DemoRecord()
            let clock = ContinuousClock()
            let began = clock.now
            let start = Date()
            demoFleet.restartClock(at: start)
            var nextSample = 0.0
            var elapsed = 0.0
            var phase = ""
            while !stopRequested.load(ordering: .relaxed) {
                elapsed = (clock.now - began).seconds
                if !keepRunning, elapsed >= pattern.duration { break }
                try await demoFleet.step(to: elapsed)
                record.observe(desired: cluster.desiredReplicas, at: elapsed)
                if elapsed >= nextSample {
                    nextSample += 2
                    let current =
                        pattern.phaseIndex(at: elapsed).map { pattern.phases[$0].name } ?? "quiet (kept running)"
                    if current != phase, !view.redraw {
                        view.note("-- phase: \(current)")
                    }
                    phase = current
                    let sample = Self.sample(
                        at: elapsed, phase: phase, fleet: demoFleet, cluster: cluster, start: start)
                    record.add(sample)
                    view.show(sample)
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            let interrupted = stopRequested.load(ordering: .relaxed)
            let summary = record.summary(
                duration: elapsed, interrupted: interrupted, totals: demoFleet.fleet.totals,
                gpuSeconds: demoFleet.gpuSeconds, sloTTFT: sloTTFT)
            try write(summary: summary, record: record, to: outDirectory)
            await Self.shutdown(controllerProcess, prometheus, fleet, cluster)
            view.note("")
            for line in summary.lines(outDirectory: out) { view.note(line) }
        } catch {
            await Self.shutdown(controllerProcess, prometheus, fleet, cluster)
            throw error
        }
    }

    private func write(summary: DemoSummary, record: DemoRecord, to directory: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(summary).write(to: directory.appendingPathComponent("summary.json"))
        try TimelineCSV.csv(record.points).write(
            to: directory.appendingPathComponent("timeline.csv"), atomically: true, encoding: .utf8)
        let title =
            "make demo: \(DemoCluster.deployment), vLLM Llama-3-8B pods (simulated), \(LiveView.clock(summary.durationSeconds))"
        try TimelineChart.svg(record.points, title: title, sloTTFT: sloTTFT).write(
            to: directory.appendingPathComponent("timeline.svg"), atomically: true, encoding: .utf8)
    }

    private static func sample(
        at time: Double, phase: String, fleet: DemoFleet, cluster: DemoCluster, start: Date
    ) -> DemoSample {
        let interval = fleet.takeInterval(at: time)
        let status = cluster.policyStatus()
        let event = cluster.latestEvent().map { event in
            "\(LiveView.clock(max(0, event.time.timeIntervalSince(start)))) \(event.reason): \(event.note)"
        }
        return DemoSample(
            time: time, load: interval.load, waiting: fleet.fleet.totals.waiting, ttftP95: interval.ttftP95,
            ready: fleet.counts.ready, pods: fleet.counts.pods, desired: cluster.desiredReplicas,
            limitedBy: status.limitedBy, policyReady: status.ready, planner: status.planner, lastEvent: event,
            phase: phase)
    }

    private static func shutdown(
        _ controller: ChildProcess?, _ prometheus: PrometheusServer?, _ fleet: DemoFleet?, _ cluster: DemoCluster
    ) async {
        await controller?.stop()
        prometheus?.stop()
        await fleet?.stop()
        await cluster.stop()
    }

    /// Creates the policy through the API server with the kubeconfig, as `kubectl create -f` does; its name.
    static func applyPolicy(path: String, kubeconfig: String) async throws -> String {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard
            var document = try PolicyFiles.documents(text, file: path).first(where: {
                $0["kind"]?.stringValue == InferenceAutoscalePolicy.kind
            }), case .object(var metadata)? = document["metadata"]
        else { throw ValidationError("\(path): no InferenceAutoscalePolicy in the file") }
        metadata["namespace"] = .string(DemoCluster.namespace)
        document.setValue(.object(metadata), at: "metadata")
        let configuration = try ClusterConfigurationLoader.load(
            kubeconfig: kubeconfig, context: nil, environment: [:], homeDirectory: NSHomeDirectory())
        let client = KubernetesAPIClient(configuration: configuration)
        let created = try await client.create(
            try DynamicObject(document), .inferenceAutoscalePolicies, namespace: DemoCluster.namespace)
        return created.metadata.name ?? ""
    }

    static func prometheusConfiguration(targets: String, interval: Double) -> String {
        """
        global:
          scrape_interval: \(Int(interval))s
          evaluation_interval: \(Int(interval))s
        scrape_configs:
          # The pods of the demo, as kubernetes_sd_configs with the usual relabelling would give them: one target
          # per pod, labelled with its namespace and name.
          - job_name: vllm
            file_sd_configs:
              - files: ['\(targets)']
                refresh_interval: 1s

        """
    }

    static func siblingExecutable(_ name: String) -> String {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let path = me.deletingLastPathComponent().appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
        return URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent(name).path
    }

}
