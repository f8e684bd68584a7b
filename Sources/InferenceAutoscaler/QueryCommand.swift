import ArgumentParser
import AutoscalerCore
import Foundation
import PolicyFiles
import Signals

/// `query --policy FILE`: each signal's PromQL and what Prometheus answers now.
struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Print each signal's PromQL and its current value (or the exact error) from your Prometheus.",
        discussion: """
            Outside a cluster the target's pods are matched by name: a Deployment's pods as NAME-<hash>-<suffix>, a \
            StatefulSet's as NAME-<ordinal>, other kinds as NAME-*. Exit status: 0 when every signal was read; 1 \
            when some could not be (each line says why); 2 when the policy is invalid or the file unreadable.
            """
    )

    @Option(help: "The policy file (YAML or JSON, one policy).")
    var policy: String

    @Option(help: "Prometheus base URL; defaults to the policy's spec.prometheus.address.")
    var prometheus: String?

    @OptionGroup var access: PrometheusAccess

    func run() async throws {
        let (_, resolved) = try loadSinglePolicy(policy, invalidExit: 2)
        let client = try access.client(address: prometheus, policy: resolved, flag: "--prometheus")
        let scope = PodScope(
            namespace: resolved.namespace, pods: .named(after: resolved.target.kind, resolved.target.name))
        let reader = SignalReader(client: client, discovery: .init(cache: MetricDiscovery(), key: "query"))
        var missing = 0
        // Which of the engine's names the namespace exports, as the controller finds them.
        let found = await reader.names(
            engine: resolved.engine, namespace: resolved.namespace, roles: MetricRole.allCases, at: Date())
        if resolved.engine != .custom {
            switch found {
            case .success(let names):
                print("metric names of engine \(resolved.engine.rawValue) exported in namespace \(resolved.namespace):")
                for role in MetricRole.allCases {
                    guard let candidates = names.candidates[role] else { continue }
                    let found = names[role]
                    print(
                        "  \(role.label): "
                            + (found.isEmpty
                                ? "none (looked for \(candidates.joined(separator: ", ")))"
                                : found.joined(separator: ", ")))
                }
            case .failure(let error):
                print("metric names of engine \(resolved.engine.rawValue): error: \(error.message)")
            }
        }
        let readings = await reader.readAll(resolved, scope: scope, at: Date())
        for (signal, reading) in zip(resolved.signals, readings) {
            print("\(signal.name) (target \(Self.format(signal.target))):")
            print("  query: \(reading.query.isEmpty ? "-" : reading.query)")
            switch reading.sample {
            case .value(let value):
                print("  value: \(Self.format(value))")
            case .missing(let reason):
                missing += 1
                print("  error: \(reason)")
            }
        }
        if let objective = resolved.objective {
            // What the objective planner reads (the capacity it learned lives in the policy's status).
            let names = (try? found.get()) ?? EnginePresets.names(for: resolved.engine)
            let queries = EnginePresets.plannerQueries(objective: objective, names: names, scope: scope)
            let workload = await reader.workload(resolved, scope: scope, at: Date())
            let rows: [(String, String?, SignalSample)] = [
                ("request rate (req/s)", queries.requestRate, workload.requestRate),
                ("prompt tokens/s", queries.promptTokenRate, workload.promptTokenRate),
                ("generated tokens/s", queries.generatedTokenRate, workload.generatedTokenRate),
                (
                    "queue time p\(Self.format(objective.timeToFirstToken.quantile * 100)) (s)", queries.queueTime,
                    workload.queueTime
                ),
                (
                    "TTFT p\(Self.format(objective.timeToFirstToken.quantile * 100)) (s)", queries.timeToFirstToken,
                    workload.timeToFirstToken
                ),
                ("KV-cache use", queries.kvCacheUsage, workload.kvCacheUsage),
                ("first tokens within target", queries.ttftBuckets, workload.withinTarget),
            ]
            for (label, query, sample) in rows {
                print("objective: \(label):")
                print("  query: \(query ?? "-")")
                switch sample {
                case .value(let value): print("  value: \(Self.format(value))")
                case .missing(let reason): print("  error: \(reason)")
                }
            }
            if case .missing = workload.requestRate { missing += 1 }
        }
        if missing > 0 { throw ExitCode(1) }
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
