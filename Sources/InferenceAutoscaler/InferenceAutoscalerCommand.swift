import ArgumentParser
import KubernetesModel

@main
struct InferenceAutoscalerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inference-autoscaler",
        abstract: "Autoscales LLM inference servers on Kubernetes from queue depth, latency, KV-cache and GPU signals.",
        version: AutoscalerVersion.current,
        subcommands: [
            RunCommand.self, ValidateCommand.self, DecideCommand.self, QueryCommand.self, SimulateCommand.self,
            ConvertCommand.self, VersionCommand.self,
        ]
    )
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version.")

    func run() {
        print("inference-autoscaler \(AutoscalerVersion.current)")
    }
}
