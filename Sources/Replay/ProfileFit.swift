import Foundation
import Simulator

/// A pod profile made to serve as fast as the recorded workload did when it had a queue.
public enum ProfileFit {
    public struct Outcome: Sendable {
        public var profile: PodProfile
        /// What was fitted, or why nothing was, in one sentence.
        public var note: String
    }

    /// Steps in which each serving pod had at least this many requests waiting: the pods were full, so what they
    /// served is what they can serve.
    static let saturatedWaitingPerPod = 1.0
    /// Fewer saturated steps than this say nothing reliable.
    static let minimumSaturatedSteps = 3

    /// `base` with its engine made faster or slower so that, at the request mix the workload served while
    /// saturated, one replica completes what one of the workload's pods did (the median over saturated steps).
    /// A workload that never queued shows no capacity: `base` is kept, and the note says so.
    public static func fit(_ base: PodProfile, to recording: PrometheusRecording) -> Outcome {
        var perPod: [Double] = []
        var saturated: [Int] = []
        for index in 0..<recording.count {
            guard let pods = recording.pods[index], pods >= 1, let waiting = recording.waiting[index],
                waiting / pods >= saturatedWaitingPerPod, let served = recording.requestRate[index], served > 0
            else { continue }
            perPod.append(served / pods)
            saturated.append(index)
        }
        guard perPod.count >= minimumSaturatedSteps else {
            return Outcome(
                profile: base,
                note: "the workload never had a queue in the range (\(perPod.count) saturated steps), so its capacity "
                    + "is not observable: profile \(base.name) as it is")
        }
        let observed = perPod.sorted()[perPod.count / 2]
        let mix = recording.meanTokens(over: saturated) ?? Trace.conversationTokens
        let modelled = OracleScaler.saturatedThroughput(base, input: mix.0, output: mix.1)
        guard modelled > 0, observed.isFinite else {
            return Outcome(profile: base, note: "capacity not comparable: profile \(base.name) as it is")
        }
        let factor = observed / modelled
        var fitted = base
        fitted.name = "\(base.name) fitted ×\(String(format: "%.2f", factor))"
        fitted.prefillTokensPerSecond = base.prefillTokensPerSecond * factor
        fitted.stepBase = base.stepBase / factor
        fitted.stepPerSequence = base.stepPerSequence / factor
        return Outcome(
            profile: fitted,
            note: String(
                format: "one pod served %.3g req/s while queued (median of %d steps, %.0f prompt / %.0f generated "
                    + "tokens each); %@ models %.3g: its engine scaled by %.2f",
                observed, perPod.count, mix.0, mix.1, base.name, modelled, factor))
    }
}
