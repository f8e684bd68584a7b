import ArgumentParser
import AutoscalerCore
import Foundation
import PolicyFiles
import Simulator

/// `simulate`: replay a trace against a policy (or a baseline) on a simulated fleet.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay a request trace against a policy or a baseline on a simulated fleet of inference pods.",
        discussion: """
            The fleet runs the pod profile's continuous-batching model; the policy sees what Prometheus would serve
            (scrapes every --scrape-interval, rate windows, vLLM's TTFT buckets) and decides with the controller's
            own code. Reports GPU-hours, TTFT SLO attainment and percentiles, and scale events.
            Baselines: static (the smallest fixed count that meets the SLO), hpa, keda-seed, kpa, oracle.
            Exit status: 0 with a report; 1 when the policy is invalid; 2 for unreadable input or bad options.
            """
    )

    @Option(help: "The policy file (YAML or JSON, one policy). With --baseline, its min/max replicas are used.")
    var policy: String?

    @Option(help: "Run a baseline instead of the policy: static, hpa, keda-seed, kpa, oracle.")
    var baseline: String?

    @Option(
        help: "The trace file (any format in shared/traces: per-request CSV, per-second rates, ServeGen, Azure 2024).")
    var trace: String

    @Option(help: "A built-in profile (\(PodProfile.builtIn.map(\.name).joined(separator: ", "))) or a YAML/JSON file.")
    var profile: String = PodProfile.llama3_8b_h100.name

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

    func run() throws {
        guard policy != nil || baseline != nil else { throw usage("give --policy FILE or --baseline NAME") }
        guard ["text", "json"].contains(output) else { throw usage("--output: expected text or json, got \(output)") }
        guard rateScale > 0, rateScale.isFinite else { throw usage("--rate-scale: must be a positive number") }
        guard let fleetModel = SimulationOptions.Model(rawValue: model) else {
            throw usage("--model: expected auto, request or fluid, got \(model)")
        }
        let resolved = try policy.map { try loadSinglePolicy($0, invalidExit: 1).1 }
        let podProfile = try loadProfile()
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
            scrapeInterval: try seconds(scrapeInterval, "--scrape-interval"), model: fleetModel)
        guard options.scrapeInterval > 0 else { throw usage("--scrape-interval: must be positive") }
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
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            print(SimulationReport.text(result, elapsed: elapsed))
        }
    }

    private func loadProfile() throws -> PodProfile {
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
