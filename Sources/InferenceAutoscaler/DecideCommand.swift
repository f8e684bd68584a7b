import ArgumentParser
import AutoscalerCore
import Foundation
import KubernetesModel
import PolicyFiles

/// `decide --policy FILE --state FILE`: what the controller would decide for one round, and why.
struct DecideCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decide",
        abstract: "Print the decision for a policy and an observed state, as JSON.",
        discussion: """
            The state file is JSON:
              {
                "now": "2026-11-23T10:00:00Z",
                "observed": {"desiredReplicas": 2, "currentReplicas": 2, "readyReplicas": 2,
                             "pods": [{"name": "vllm-0", "createdAt": "...", "ready": true, "readySince": "..."}]},
                "samples": [{"type": "QueueDepth", "value": 21}, {"type": "TimeToFirstToken", "missing": "timeout"}],
                "history": { ... }
              }
            "now" defaults to the current time. Samples are matched to the policy's signals by "type" (or the name
            "Custom[i]" when there are several Custom signals), or by order when they carry no type. "history" is the
            decision history from a policy's status.history; when absent, the policy file's own status.history is
            used, so a policy fetched with `kubectl get iap NAME -o yaml` replays as it stands. Exit status: 0 with
            the decision; 1 when the policy is invalid; 2 when a file cannot be read or parsed.
            """
    )

    @Option(help: "The policy file (YAML or JSON, one policy).")
    var policy: String

    @Option(help: "The observed-state file (JSON).")
    var state: String

    func run() throws {
        let (parsed, resolved) = try loadSinglePolicy(policy, invalidExit: 1)

        let snapshot: DecisionState
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: state))
            snapshot = try JSONDecoder().decode(DecisionState.self, from: data)
        } catch let error as DecodingError {
            printError("\(state): \(DecisionState.describe(error))")
            throw ExitCode(2)
        } catch {
            printError("\(state): cannot read file: \(error.localizedDescription)")
            throw ExitCode(2)
        }

        let samples: [SignalSample]
        do {
            samples = try snapshot.samples(for: resolved)
        } catch {
            printError("\(state): \(error)")
            throw ExitCode(2)
        }
        let decision = ScalingDecider.decide(
            policy: resolved, observed: snapshot.observed, samples: samples,
            history: snapshot.history ?? parsed.status?.history ?? DecisionHistory(), now: snapshot.now ?? Date())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(decision), as: UTF8.self))
    }
}

/// The documented input of `decide`.
struct DecisionState: Decodable {
    struct Sample: Decodable {
        var type: String?
        var value: Double?
        var missing: String?
    }

    struct SampleError: Error, CustomStringConvertible {
        var description: String
    }

    var now: Date?
    var observed: ObservedScale
    var samples: [Sample]
    var history: DecisionHistory?

    private enum CodingKeys: String, CodingKey { case now, observed, samples, history }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let text = try container.decodeIfPresent(String.self, forKey: .now) {
            guard let date = Timestamp.parse(text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .now, in: container, debugDescription: "not an RFC 3339 time: \(text)")
            }
            now = date
        }
        observed = try container.decode(ObservedScale.self, forKey: .observed)
        samples = try container.decodeIfPresent([Sample].self, forKey: .samples) ?? []
        history = try container.decodeIfPresent(DecisionHistory.self, forKey: .history)
    }

    /// One sample per signal of `policy`, in its order; signals without a sample are missing.
    func samples(for policy: ResolvedPolicy) throws(SampleError) -> [SignalSample] {
        func sample(_ entry: Sample) throws(SampleError) -> SignalSample {
            if let value = entry.value { return .value(value) }
            if let reason = entry.missing { return .missing(reason) }
            throw SampleError(description: "a sample needs \"value\" or \"missing\"")
        }
        if samples.allSatisfy({ $0.type == nil }) {
            var result: [SignalSample] = []
            for (index, _) in policy.signals.enumerated() {
                result.append(index < samples.count ? try sample(samples[index]) : .missing("no sample given"))
            }
            return result
        }
        var byName: [String: SignalSample] = [:]
        for entry in samples {
            guard let name = entry.type else {
                throw SampleError(description: "give every sample a \"type\", or none")
            }
            guard policy.signals.contains(where: { $0.name == name }) else {
                let names = policy.signals.map(\.name).joined(separator: ", ")
                throw SampleError(description: "sample type \"\(name)\" is not a signal of the policy (\(names))")
            }
            byName[name] = try sample(entry)
        }
        return policy.signals.map { byName[$0.name] ?? .missing("no sample given") }
    }

    static func describe(_ error: DecodingError) -> String {
        PolicyFiles.violation(for: error).description
    }
}
