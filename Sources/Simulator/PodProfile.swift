import Foundation

/// How fast one inference replica serves, and how long it takes to start.
///
/// The step model is vLLM's continuous batching reduced to its costs: an engine step serves every running request
/// one output token and, within a token budget, prefills waiting prompt tokens; a step takes
/// `stepBase + stepPerSequence × running + prefill tokens / prefillTokensPerSecond`.
public struct PodProfile: Sendable, Equatable, Codable {
    public var name: String
    /// Prompt tokens per second when prefilling alone.
    public var prefillTokensPerSecond: Double
    /// Fixed cost of one engine step (kernel launches, scheduling), seconds.
    public var stepBase: Double
    /// Added step cost per running sequence, seconds.
    public var stepPerSequence: Double
    /// Prompt tokens one step may prefill (vLLM's max_num_batched_tokens).
    public var maxBatchedTokens: Int
    /// vLLM's max_num_seqs.
    public var maxNumSeqs: Int
    /// KV-cache capacity in tokens: a request holds its input and the tokens generated so far (vLLM allocates blocks
    /// as it goes), and no new request is admitted while its prompt does not fit.
    public var kvCacheTokens: Int
    /// Seconds from pod creation to Ready.
    public var coldStart: Double
    /// GPUs per replica (GPU-hours count them).
    public var gpus: Int
    /// Up to this many seconds more cold start, drawn uniformly per pod (image pulls, node warm-up); nil: none.
    public var coldStartJitter: Double?
    /// The TTFT SLO in seconds this model is held to; nil: the simulator's default (2 s).
    public var sloTTFT: Double?

    public init(
        name: String, prefillTokensPerSecond: Double, stepBase: Double, stepPerSequence: Double,
        maxBatchedTokens: Int, maxNumSeqs: Int, kvCacheTokens: Int, coldStart: Double, gpus: Int,
        coldStartJitter: Double? = nil, sloTTFT: Double? = nil
    ) {
        self.coldStartJitter = coldStartJitter
        self.sloTTFT = sloTTFT
        self.name = name
        self.prefillTokensPerSecond = prefillTokensPerSecond
        self.stepBase = stepBase
        self.stepPerSequence = stepPerSequence
        self.maxBatchedTokens = maxBatchedTokens
        self.maxNumSeqs = maxNumSeqs
        self.kvCacheTokens = kvCacheTokens
        self.coldStart = coldStart
        self.gpus = gpus
    }

    /// Llama-3-8B on one H100 (vLLM v0.6 blog: ShareGPT ≈ 37 req/s; 128 KiB of KV per token: 80 GB ≈ 400k tokens).
    public static let llama3_8b_h100 = PodProfile(
        name: "llama3-8b-h100", prefillTokensPerSecond: 40_000, stepBase: 0.010, stepPerSequence: 0.000_1,
        maxBatchedTokens: 8192, maxNumSeqs: 1024, kvCacheTokens: 400_000, coldStart: 90, gpus: 1)
    /// Llama-3-8B on one A100 80 GB (ShareGPT ≈ 19 req/s).
    public static let llama3_8b_a100 = PodProfile(
        name: "llama3-8b-a100", prefillTokensPerSecond: 20_000, stepBase: 0.015, stepPerSequence: 0.000_2,
        maxBatchedTokens: 8192, maxNumSeqs: 256, kvCacheTokens: 400_000, coldStart: 90, gpus: 1)
    /// Llama-3-70B on four H100 (ShareGPT ≈ 17 req/s).
    public static let llama3_70b_4xh100 = PodProfile(
        name: "llama3-70b-4xh100", prefillTokensPerSecond: 18_000, stepBase: 0.025, stepPerSequence: 0.000_22,
        maxBatchedTokens: 8192, maxNumSeqs: 1024, kvCacheTokens: 1_000_000, coldStart: 180, gpus: 4)

    public static let builtIn = [llama3_8b_h100, llama3_8b_a100, llama3_70b_4xh100]

    /// Problems with a profile read from a file, as `field: problem`.
    public var problems: [String] {
        var found: [String] = []
        if name.isEmpty { found.append("name: must not be empty") }
        for (field, value) in [
            ("prefillTokensPerSecond", prefillTokensPerSecond), ("stepBase", stepBase),
            ("stepPerSequence", stepPerSequence), ("coldStart", coldStart),
        ] where !(value.isFinite && value >= 0) {
            found.append("\(field): must be a non-negative number, got \(value)")
        }
        if !(prefillTokensPerSecond > 0) { found.append("prefillTokensPerSecond: must be positive") }
        if !(stepBase > 0) { found.append("stepBase: must be positive") }
        for (field, value) in [
            ("maxBatchedTokens", maxBatchedTokens), ("maxNumSeqs", maxNumSeqs), ("kvCacheTokens", kvCacheTokens),
            ("gpus", gpus),
        ] where value < 1 {
            found.append("\(field): must be at least 1, got \(value)")
        }
        if let jitter = coldStartJitter, !(jitter.isFinite && jitter >= 0) {
            found.append("coldStartJitter: must be a non-negative number")
        }
        if let slo = sloTTFT, !(slo.isFinite && slo > 0) { found.append("sloTTFT: must be a positive number") }
        return found
    }
}
