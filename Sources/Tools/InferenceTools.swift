import ArgumentParser

/// The project's own tools, beside the controller: the demo and the two benchmarks.
@main
struct InferenceTools: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inference-tools",
        abstract: "The demo and the benchmarks of inference-autoscaler.",
        subcommands: [DemoCommand.self, DecisionBench.self, ScaleBench.self])
}
