import ArgumentParser
import Foundation
import KubernetesModel
import Migration
import PolicyFiles

/// `convert FILE...`: KEDA ScaledObjects and autoscaling/v2 HPAs to policies, each checked as `validate` checks it.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Write the policies equivalent to KEDA ScaledObjects and autoscaling/v2 HorizontalPodAutoscalers.",
        discussion: """
            Reads YAML or JSON files (several documents, or a List from kubectl get -o yaml; TriggerAuthentications \
            among them supply their Secrets) and writes one policy per object to standard output, each headed by \
            comments naming every field that was not carried over, or that behaves differently, and why. \
            Exit status: 0 when every policy written is valid; 1 when one is not (its violations on standard \
            error); 2 when a file cannot be read or holds nothing to convert.
            """
    )

    @Argument(help: "Files holding ScaledObjects or HorizontalPodAutoscalers ('-' for standard input).")
    var files: [String]

    func run() throws {
        var invalid = 0
        var converted = 0
        var output: [String] = []
        for file in files {
            let documents: [JSONValue]
            do {
                documents = try PolicyFiles.documents(try read(file), file: file)
            } catch let error as PolicyFileError {
                printError(error.description)
                throw ExitCode(2)
            }
            let result = Converter.convert(documents)
            for skipped in result.skipped { printError("\(file): skipped \(skipped.source): \(skipped.reason)") }
            for conversion in result.conversions {
                let yaml = try conversion.yaml(from: file == "-" ? nil : file)
                converted += 1
                // The same checks as `validate`: the CRD's schema and the controller's rules.
                let problems = (try? PolicyFiles.parse(yaml, file: file))?.policies.flatMap(\.violations)
                if let problems, problems.isEmpty {
                    output.append(yaml)
                } else {
                    invalid += 1
                    output.append(yaml)
                    for problem in problems ?? [] {
                        printError("\(file): \(conversion.source): \(problem.path): \(problem.message)")
                    }
                }
            }
        }
        print(output.joined(separator: "---\n"), terminator: "")
        if converted == 0 {
            printError("no ScaledObject or HorizontalPodAutoscaler to convert")
            throw ExitCode(2)
        }
        if invalid > 0 { throw ExitCode(1) }
    }

    private func read(_ file: String) throws -> String {
        if file == "-" { return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) }
        guard let data = FileManager.default.contents(atPath: file) else {
            printError("\(file): cannot be read")
            throw ExitCode(2)
        }
        return String(decoding: data, as: UTF8.self)
    }
}
