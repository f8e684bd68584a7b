import ArgumentParser
import AutoscalerCore
import Foundation
import KubernetesModel
import PolicyFiles

/// `validate FILE...`: the controller's own checks, offline.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check policy files (YAML or JSON, several documents per file) with the controller's rules.",
        discussion: """
            Exit status: 0 when every policy is valid; 1 with one line per violation, \
            FILE: NAMESPACE/NAME: PATH: MESSAGE; 2 when a file cannot be read or parsed (FILE:LINE:COLUMN: PROBLEM). \
            A directory stands for the .yaml, .yml and .json files in it.
            """
    )

    @Argument(help: "Policy files or directories.")
    var files: [String]

    func run() throws {
        var violations = 0
        var unreadable = 0
        var valid = 0
        for file in expand(files) {
            let contents: PolicyFiles.Contents
            do {
                contents = try PolicyFiles.load(file)
            } catch {
                printError(error.description)
                unreadable += 1
                continue
            }
            for skipped in contents.skipped {
                printError("\(file): skipped \(skipped.apiVersion) \(skipped.kind) (document \(skipped.index + 1))")
            }
            if contents.policies.isEmpty {
                print("\(file): no InferenceAutoscalePolicy in this file")
                violations += 1
            }
            for document in contents.policies {
                let problems = document.violations
                if problems.isEmpty {
                    valid += 1
                    print("\(file): \(document.displayName): valid")
                }
                for problem in problems {
                    print("\(file): \(document.displayName): \(problem.path): \(problem.message)")
                }
                violations += problems.count
            }
        }
        if unreadable > 0 { throw ExitCode(2) }
        if violations > 0 { throw ExitCode(1) }
    }

    private func expand(_ paths: [String]) -> [String] {
        paths.flatMap { path -> [String] in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue,
                let names = try? FileManager.default.contentsOfDirectory(atPath: path)
            else { return [path] }
            return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json") }
                .sorted()
                .map { (path as NSString).appendingPathComponent($0) }
        }
    }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Reads a file that must hold exactly one valid policy. Unreadable files and other counts exit 2; an invalid policy
/// prints its violations (`FILE: NAMESPACE/NAME: PATH: MESSAGE`) and exits with `invalidExit`.
func loadSinglePolicy(_ path: String, invalidExit: Int32) throws -> (InferenceAutoscalePolicy, ResolvedPolicy) {
    let contents: PolicyFiles.Contents
    do {
        contents = try PolicyFiles.load(path)
    } catch {
        printError(error.description)
        throw ExitCode(2)
    }
    guard contents.policies.count == 1, let document = contents.policies.first else {
        printError("\(path): expected exactly one InferenceAutoscalePolicy, found \(contents.policies.count)")
        throw ExitCode(2)
    }
    let problems = document.violations
    guard let parsed = document.policy, problems.isEmpty, case .success(let resolved) = PolicyValidator.resolve(parsed)
    else {
        for problem in problems { print("\(path): \(document.displayName): \(problem)") }
        throw ExitCode(invalidExit)
    }
    return (parsed, resolved)
}
