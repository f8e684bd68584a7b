import ArgumentParser
import AutoscalerCore
import Foundation
import KubernetesClient
import KubernetesModel
import Logging
import Migration
import PolicyFiles

/// `convert FILE...`: KEDA ScaledObjects and autoscaling/v2 HPAs to policies, each checked as `validate` checks it.
struct ConvertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Write the policies equivalent to KEDA ScaledObjects and autoscaling/v2 HorizontalPodAutoscalers.",
        discussion: """
            Reads YAML or JSON files (several documents, or a List from kubectl get -o yaml; TriggerAuthentications \
            among them supply their Secrets), or with --from-cluster the ScaledObjects, TriggerAuthentications and \
            HorizontalPodAutoscalers your kubeconfig can list, and writes one policy per object to standard output, each headed by \
            comments naming every field that was not carried over, or that behaves differently, and why. \
            Exit status: 0 when every policy written is valid; 1 when one is not (its violations on standard \
            error); 2 when a file cannot be read or holds nothing to convert.
            """
    )

    @Argument(help: "Files holding ScaledObjects or HorizontalPodAutoscalers ('-' for standard input).")
    var files: [String] = []

    @Flag(help: "Read the objects from the cluster instead of files.")
    var fromCluster = false

    @Option(help: "With --from-cluster: the namespace to read (default: all namespaces).")
    var namespace: String?

    @Option(help: "With --from-cluster: a kubeconfig (default: $KUBECONFIG, in-cluster, then ~/.kube/config).")
    var kubeconfig: String?

    @Option(help: "With --from-cluster: the kubeconfig context to use.")
    var context: String?

    func validate() throws {
        if fromCluster != files.isEmpty {
            throw ValidationError(fromCluster ? "--from-cluster reads no files" : "name files, or use --from-cluster")
        }
    }

    func run() async throws {
        var inputs: [(file: String, documents: [JSONValue])] = []
        if fromCluster {
            inputs = [("cluster", try await clusterObjects())]
        }
        for file in files {
            do {
                inputs.append((file, try PolicyFiles.documents(try read(file), file: file)))
            } catch let error as PolicyFileError {
                printError(error.description)
                throw ExitCode(2)
            }
        }
        var invalid = 0
        var converted = 0
        var output: [String] = []
        for (file, documents) in inputs {
            let result = Converter.convert(documents)
            for skipped in result.skipped { printError("\(file): skipped \(skipped.source): \(skipped.reason)") }
            for conversion in result.conversions {
                let yaml = try conversion.yaml(from: file == "-" || fromCluster ? nil : file)
                converted += 1
                // The same checks as `validate`: the CRD's schema and the controller's rules.
                output.append(yaml)
                let problems: [PolicyViolation]
                do {
                    problems = try PolicyFiles.parse(yaml, file: file).policies.flatMap(\.violations)
                } catch {
                    invalid += 1
                    printError("\(file): \(conversion.source): the policy written does not read back: \(error)")
                    continue
                }
                if !problems.isEmpty { invalid += 1 }
                for problem in problems {
                    printError("\(file): \(conversion.source): \(problem.path): \(problem.message)")
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

    /// ScaledObjects and TriggerAuthentications (where KEDA's CRDs exist) and autoscaling/v2 HPAs, as the API
    /// serves them; list items carry no kind, so each gets its list's.
    private func clusterObjects() async throws -> [JSONValue] {
        let cluster: ClusterConfiguration
        do {
            cluster = try ClusterConfigurationLoader.load(
                kubeconfig: kubeconfig, context: context, environment: ProcessInfo.processInfo.environment,
                homeDirectory: NSHomeDirectory())
        } catch {
            printError("cannot load the cluster configuration: \(error)")
            throw ExitCode(2)
        }
        let client = KubernetesAPIClient(configuration: cluster, logger: Logger(label: "convert"))
        let resources: [(APIResource, apiVersion: String, optional: Bool)] = [
            (.kedaTriggerAuthentications, "keda.sh/v1alpha1", true), (.kedaScaledObjects, "keda.sh/v1alpha1", true),
            (.horizontalPodAutoscalers, "autoscaling/v2", false),
        ]
        var objects: [JSONValue] = []
        for (resource, apiVersion, optional) in resources {
            do {
                let items = try await client.listAll(JSONValue.self, resource, namespace: namespace).items
                objects += items.map { item in
                    var item = item
                    if item["kind"] == nil { item.setValue(.string(resource.kind), at: "kind") }
                    if item["apiVersion"] == nil { item.setValue(.string(apiVersion), at: "apiVersion") }
                    return item
                }
            } catch let error as KubernetesError where optional && error.isNotFound {
                // KEDA is not installed: there is nothing of it to convert.
                continue
            } catch {
                printError("cannot list \(resource.name): \(error)")
                throw ExitCode(2)
            }
        }
        return objects
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
