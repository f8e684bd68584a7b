import ArgumentParser
import AutoscalerCore
import Foundation
import PolicyFiles
import Replay
import Signals
import Simulator

/// `simulate`: replay a trace against a policy (or a baseline) on a simulated fleet.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay a request trace against a policy or a baseline on a simulated fleet of inference pods.",
        discussion: """
            The fleet runs the pod profile's continuous-batching model; the policy sees what Prometheus would serve
            (scrapes every --scrape-interval, rate windows, vLLM's TTFT buckets) and decides with the controller's
            own code. Reports GPU-hours, TTFT SLO attainment and percentiles, and scale events.
            Baselines: static (the smallest fixed count that meets the SLO), hpa, keda-seed, kpa, oracle.
            With --from-prometheus URL instead of --trace, the workload of --policy is replayed from its own metrics: \
            its request and token counters and its serving pods over --since (range queries with the controller's \
            own PromQL), on a profile fitted to the capacity its pods showed while queued (or --profile as it is); \
            the policy and --baselines run on that traffic, and the report compares them with what the workload ran.
            Exit status: 0 with a report; 1 when the policy is invalid; 2 for unreadable input or bad options.
            """
    )

    @Option(help: "The policy file (YAML or JSON, one policy). With --baseline, its min/max replicas are used.")
    var policy: String?

    @Option(help: "Run a baseline instead of the policy: static, hpa, keda-seed, kpa, oracle.")
    var baseline: String?

    @Option(
        help: "The trace file (any format in shared/traces: per-request CSV, per-second rates, ServeGen, Azure 2024).")
    var trace: String?

    @Option(help: "Replay the policy's workload from this Prometheus instead of a trace file.")
    var fromPrometheus: String?

    @Option(help: "With --from-prometheus: how far back to read (a duration such as 7d or 90m).")
    var since: String = "1d"

    @Option(help: "With --from-prometheus: the end of the range (RFC 3339; default now).")
    var until: String?

    @Option(help: "With --from-prometheus: the step of the range queries (at least 15s).")
    var step: String = "60s"

    @Option(help: "With --from-prometheus: the workload's namespace (default: the policy's).")
    var namespace: String?

    @Option(help: "With --from-prometheus: the workload's name (default: the policy's targetRef).")
    var target: String?

    @Option(help: "With --from-prometheus: baselines to run beside the policy, comma-separated, or none.")
    var baselines: String = "oracle,hpa"

    @Option(help: "With --from-prometheus: the timeout of each range query (a week of a busy fleet takes a while).")
    var timeout: String = "60s"

    @OptionGroup var access: PrometheusAccess

    @Option(
        help: """
            A built-in profile (\(PodProfile.builtIn.map(\.name).joined(separator: ", "))) or a YAML/JSON file \
            (default \(PodProfile.llama3_8b_h100.name); with --from-prometheus and no --profile, it is fitted).
            """)
    var profile: String?

    @Option(name: .customLong("rate-scale"), help: "Multiply the traffic (thin or replicate requests, seeded).")
    var rateScale: Double = 1

    @Option(help: "Begin this far into the trace (a duration such as 2h).")
    var start: String = "0s"

    @Option(help: "Replay this long (a duration); default to the end of the trace.")
    var duration: String?

    @Option(name: .customLong("slo-ttft"), help: "The TTFT SLO (default: the profile's, else 2s).")
    var sloTTFT: String?

    @Option(name: .customLong("scrape-interval"), help: "Prometheus's scrape interval.")
    var scrapeInterval: String = "15s"

    @Option(help: "The random seed (arrival synthesis, thinning, cold-start jitter).")
    var seed: UInt64 = 1

    @Option(help: "Fleet model: auto (request by request up to 3M requests, fluid beyond), request, fluid.")
    var model: String = "auto"

    @Option(name: .customLong("min-replicas"), help: "Baselines without --policy: the minimum replicas.")
    var minReplicas: Int = 1

    @Option(name: .customLong("max-replicas"), help: "Baselines without --policy: the maximum replicas.")
    var maxReplicas: Int = 64

    @Option(help: "text or json.")
    var output: String = "text"

    @Option(help: "Write an SVG chart of load, replicas and TTFT p95 here.")
    var chart: String?

    @Option(help: "Write the timeline as CSV here.")
    var timeline: String?

    func run() async throws {
        if let fromPrometheus { return try await replay(from: fromPrometheus) }
        guard let trace else { throw usage("give --trace FILE or --from-prometheus URL") }
        guard policy != nil || baseline != nil else { throw usage("give --policy FILE or --baseline NAME") }
        let (fleetModel, scrape) = try simulationOptions()
        let resolved = try policy.map { try loadSinglePolicy($0, invalidExit: 1).1 }
        let podProfile = try loadProfile(profile ?? PodProfile.llama3_8b_h100.name)
        let loaded: Trace
        do {
            loaded = try Trace.load(trace)
        } catch {
            printError("\(trace): \(error)")
            throw ExitCode(2)
        }
        var options = SimulationOptions(
            profile: podProfile,
            replay: ReplayOptions(
                rateScale: rateScale, start: try seconds(start, "--start"),
                duration: try duration.map { try seconds($0, "--duration") }, seed: seed),
            sloTTFT: try sloTTFT.map { try seconds($0, "--slo-ttft") } ?? podProfile.sloTTFT ?? 2,
            scrapeInterval: scrape, model: fleetModel)
        guard FleetSimulator.span(loaded, replay: options.replay) > 0 else {
            throw usage("--start/--duration: nothing of the trace is left to replay")
        }
        options.timelineInterval = nil

        let bounds = resolved.map { ($0.minReplicas, $0.maxReplicas) } ?? (minReplicas, maxReplicas)
        let clock = ContinuousClock.now
        // Every scaler starts as if it had been running: as many warm replicas as the first five minutes need.
        let warm = OracleScaler.plan(trace: loaded, options: options, minReplicas: bounds.0, maxReplicas: bounds.1)
            .warmStart()
        let result: SimulationResult
        if let baseline {
            guard let kind = Baseline(rawValue: baseline) else {
                throw usage("--baseline: expected one of \(Baseline.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            result = kind.simulate(
                trace: loaded, options: options, minReplicas: bounds.0, maxReplicas: bounds.1, initialReplicas: warm)
        } else {
            var scaler = PolicyScaler(policy: resolved!, initialReplicas: warm)
            result = FleetSimulator.run(trace: loaded, scaler: &scaler, options: options)
        }
        let elapsed = ContinuousClock.now - clock

        if let chart {
            let title = "\(URL(fileURLWithPath: trace).lastPathComponent) × \(result.scaler) on \(podProfile.name)"
            try write(
                TimelineChart.svg(
                    result.timeline, title: title, sloTTFT: options.sloTTFT, gpusPerReplica: podProfile.gpus),
                to: chart)
        }
        if let timeline { try write(TimelineCSV.csv(result.timeline), to: timeline) }
        if output == "json" {
            var summary = result
            summary.timeline = []
            try printJSON(summary)
        } else {
            print(SimulationReport.text(result, elapsed: elapsed))
        }
    }

    /// `--from-prometheus`: the workload's own traffic, the policy and the baselines on it, and what really ran.
    private func replay(from address: String) async throws {
        guard trace == nil else { throw usage("give --trace or --from-prometheus, not both") }
        guard let policy else { throw usage("--from-prometheus needs --policy FILE (its workload is replayed)") }
        guard baseline == nil else {
            throw usage("--from-prometheus runs --baselines beside the policy, not --baseline")
        }
        let (fleetModel, scrape) = try simulationOptions()
        var resolved = try loadSinglePolicy(policy, invalidExit: 1).1
        let kinds: [Baseline] =
            try baselines == "none"
            ? []
            : baselines.split(separator: ",").map { name in
                guard let kind = Baseline(rawValue: String(name)) else {
                    let known = Baseline.allCases.map(\.rawValue).joined(separator: ", ")
                    throw usage("--baselines: \(name) is not one of \(known), or none")
                }
                return kind
            }
        let stepSeconds = try seconds(step, "--step")
        guard stepSeconds >= 15 else { throw usage("--step: at least 15s (two scrapes a step)") }
        let end: Date
        if let until {
            let fractional = ISO8601DateFormatter()
            fractional.formatOptions.insert(.withFractionalSeconds)
            guard let parsed = ISO8601DateFormatter().date(from: until) ?? fractional.date(from: until) else {
                throw usage("--until: expected an RFC 3339 time such as 2026-12-01T00:00:00Z")
            }
            end = parsed
        } else {
            end = Date()
        }
        // Days as well as the policy's units: a replay reads back a week.
        let span =
            try since.hasSuffix("d") && Double(since.dropLast()) != nil
            ? Double(since.dropLast())! * 86400 : seconds(since, "--since")
        guard span >= 2 * stepSeconds else { throw usage("--since: at least two steps") }
        if let namespace { resolved.namespace = namespace }
        if let target { resolved.target.name = target }
        let client = try access.client(
            address: address, policy: resolved, flag: "--from-prometheus", timeout: try seconds(timeout, "--timeout"))
        let scope = PodScope(
            namespace: resolved.namespace, pods: .named(after: resolved.target.kind, resolved.target.name))
        var recording: PrometheusRecording
        do {
            recording = try await PrometheusRecording.read(
                client: client, engine: resolved.engine, scope: scope, from: end.addingTimeInterval(-span), to: end,
                step: stepSeconds, scrapeInterval: scrape)
        } catch {
            printError("simulate --from-prometheus: \(error)")
            throw ExitCode(2)
        }

        // --start and --duration cut the range, for the live workload's figures as for the replay.
        let offset = try seconds(start, "--start")
        let length = try duration.map { try seconds($0, "--duration") }
        if offset > 0 || length != nil {
            guard let cut = recording.window(start: offset, duration: length) else {
                throw usage("--start/--duration: nothing of the range is left to replay")
            }
            recording = cut
        }
        var podProfile: PodProfile
        var note: String
        if let profile {
            podProfile = try loadProfile(profile)
            note = "as given"
        } else {
            let fit = ProfileFit.fit(PodProfile.llama3_8b_h100, to: recording)
            (podProfile, note) = (fit.profile, fit.note)
        }
        if let startup = resolved.expectedStartup {
            podProfile.coldStart = startup
            note += String(format: "; cold start %.0f s from the policy's startup.expectedDuration", startup)
        }
        let loaded = recording.trace()
        let options = SimulationOptions(
            profile: podProfile,
            // --start and --duration already cut the recording.
            replay: ReplayOptions(rateScale: rateScale, seed: seed),
            sloTTFT: try sloTTFT.map { try seconds($0, "--slo-ttft") } ?? resolved.objective?.timeToFirstToken.seconds
                ?? podProfile.sloTTFT ?? 2,
            scrapeInterval: scrape, model: fleetModel)

        // Every scaler starts with the replicas the workload had at the start of the range.
        let initial = max(resolved.minReplicas, Int(recording.liveReplicas.first?.replicas ?? 1), 1)
        var scaler = PolicyScaler(policy: resolved, initialReplicas: initial)
        var runs = [FleetSimulator.run(trace: loaded, scaler: &scaler, options: options)]
        for kind in kinds {
            runs.append(
                kind.simulate(
                    trace: loaded, options: options, minReplicas: resolved.minReplicas,
                    maxReplicas: resolved.maxReplicas, initialReplicas: initial))
        }
        // Over the steps replayed (the range as cut), like the live GPU-hours.
        let attainment = await PrometheusRecording.attainment(
            client: client, engine: resolved.engine, scope: scope, end: Date(timeIntervalSince1970: recording.end),
            window: Double(recording.count) * recording.step, slo: options.sloTTFT)
        let comparison = ReplayComparison(
            recording: recording, namespace: resolved.namespace, target: resolved.target.name, profile: podProfile,
            profileNote: note, liveAttainment: attainment, runs: runs)
        if let chart {
            let title =
                "\(resolved.namespace)/\(resolved.target.name) replayed × \(runs[0].scaler) on \(podProfile.name)"
            try write(
                TimelineChart.svg(
                    runs[0].timeline, title: title, sloTTFT: options.sloTTFT, gpusPerReplica: podProfile.gpus,
                    reference: recording.liveReplicas),
                to: chart)
        }
        if let timeline { try write(TimelineCSV.csv(runs[0].timeline), to: timeline) }
        if output == "json" {
            try printJSON(comparison)
        } else {
            print(comparison.text())
        }
    }

    /// The options both a trace and a replay check alike: the output format, the traffic scale, the fleet model and
    /// the simulated scrape interval.
    private func simulationOptions() throws -> (model: SimulationOptions.Model, scrapeInterval: Double) {
        guard ["text", "json"].contains(output) else { throw usage("--output: expected text or json, got \(output)") }
        guard rateScale > 0, rateScale.isFinite else { throw usage("--rate-scale: must be a positive number") }
        guard let fleetModel = SimulationOptions.Model(rawValue: model) else {
            throw usage("--model: expected auto, request or fluid, got \(model)")
        }
        let scrape = try seconds(scrapeInterval, "--scrape-interval")
        guard scrape > 0 else { throw usage("--scrape-interval: must be positive") }
        return (fleetModel, scrape)
    }

    private func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    private func loadProfile(_ profile: String) throws -> PodProfile {
        if let builtIn = PodProfile.builtIn.first(where: { $0.name == profile }) { return builtIn }
        guard FileManager.default.fileExists(atPath: profile) else {
            let names = PodProfile.builtIn.map(\.name).joined(separator: ", ")
            throw usage("--profile: \(profile) is neither a built-in profile (\(names)) nor a file")
        }
        do {
            return try PodProfile.load(profile)
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
    }

    private func seconds(_ text: String, _ flag: String) throws -> Double {
        do {
            return try PolicyDuration.parse(text)
        } catch {
            throw usage("\(flag): \(error)")
        }
    }

    private func usage(_ message: String) -> ExitCode {
        printError("simulate: \(message)")
        return ExitCode(2)
    }

    private func write(_ text: String, to path: String) throws {
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            printError("\(path): cannot write: \(error.localizedDescription)")
            throw ExitCode(2)
        }
    }
}
