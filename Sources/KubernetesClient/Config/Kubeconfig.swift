import Foundation
import KubernetesModel
import Yams

/// One kubeconfig file as written (`clientcmd/api/v1`), with only the fields this client reads. Unknown fields,
/// `preferences` and `extensions` other than a cluster's exec config are ignored, as kubectl ignores them.
struct KubeconfigFile: Decodable {
    struct NamedCluster: Decodable {
        var name: String?
        var cluster: Cluster?
    }

    struct Cluster: Decodable {
        var server: String?
        var certificateAuthority: String?
        var certificateAuthorityData: String?
        var insecureSkipTLSVerify: Bool?
        var tlsServerName: String?
        var proxyURL: String?
        var extensions: [NamedExtension]?

        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
            case tlsServerName = "tls-server-name"
            case proxyURL = "proxy-url"
            case extensions
        }
    }

    struct NamedExtension: Decodable {
        var name: String?
        var `extension`: JSONValue?
    }

    struct NamedUser: Decodable {
        var name: String?
        var user: User?
    }

    struct User: Decodable {
        var token: String?
        var tokenFile: String?
        var clientCertificate: String?
        var clientCertificateData: String?
        var clientKey: String?
        var clientKeyData: String?
        var username: String?
        var password: String?
        var exec: Exec?
        var authProvider: AuthProvider?
        var impersonate: String?
        var impersonateUID: String?
        var impersonateGroups: [String]?
        var impersonateUserExtra: [String: [String]]?

        enum CodingKeys: String, CodingKey {
            case token, tokenFile, username, password, exec
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
            case authProvider = "auth-provider"
            case impersonate = "as"
            case impersonateUID = "as-uid"
            case impersonateGroups = "as-groups"
            case impersonateUserExtra = "as-user-extra"
        }
    }

    struct Exec: Decodable {
        var apiVersion: String?
        var command: String?
        var args: [String]?
        var env: [EnvVar]?
        var installHint: String?
        var provideClusterInfo: Bool?
        var interactiveMode: String?
    }

    struct EnvVar: Decodable {
        var name: String?
        var value: String?
    }

    struct AuthProvider: Decodable {
        var name: String?
    }

    struct NamedContext: Decodable {
        var name: String?
        var context: Context?
    }

    struct Context: Decodable {
        var cluster: String?
        var user: String?
        var namespace: String?
    }

    var clusters: [NamedCluster]?
    var users: [NamedUser]?
    var contexts: [NamedContext]?
    var currentContext: String?

    enum CodingKeys: String, CodingKey {
        case clusters, users, contexts
        case currentContext = "current-context"
    }
}

/// A named entry and the file it came from, for messages and for resolving its relative paths.
struct Sourced<Value> {
    var value: Value
    var file: String
}

/// Several kubeconfig files merged with kubectl's rules.
///
/// 1. Each file's relative paths are resolved against that file's directory before merging.
/// 2. For clusters, users and contexts, the first file that defines a name wins; later definitions are ignored whole
///    (fields are not merged across files).
/// 3. `current-context` comes from the first file that sets it.
struct MergedKubeconfig {
    var files: [String] = []
    var clusters: [String: Sourced<KubeconfigFile.Cluster>] = [:]
    var users: [String: Sourced<KubeconfigFile.User>] = [:]
    var contexts: [String: Sourced<KubeconfigFile.Context>] = [:]
    var currentContext: Sourced<String>?

    /// Adds a later file: it only fills names and a current context that earlier files left unset.
    mutating func merge(_ document: KubeconfigFile, from file: String) {
        files.append(file)
        for entry in document.clusters ?? [] {
            guard let name = entry.name, clusters[name] == nil else { continue }
            clusters[name] = Sourced(value: entry.cluster ?? .init(), file: file)
        }
        for entry in document.users ?? [] {
            guard let name = entry.name, users[name] == nil else { continue }
            users[name] = Sourced(value: entry.user ?? .init(), file: file)
        }
        for entry in document.contexts ?? [] {
            guard let name = entry.name, contexts[name] == nil else { continue }
            contexts[name] = Sourced(value: entry.context ?? .init(), file: file)
        }
        if currentContext == nil, let name = document.currentContext, !name.isEmpty {
            currentContext = Sourced(value: name, file: file)
        }
    }
}

extension KubeconfigFile {
    /// Parses one file's text. An empty file (or one of comments only) is an empty configuration, as for kubectl.
    static func parse(_ text: String, file: String) throws(ConfigurationError) -> KubeconfigFile {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigurationError(
                .invalidKubeconfig, "kubeconfig \(file) is not valid YAML: \(describe(error))", file: file)
        } catch {
            throw ConfigurationError(.invalidKubeconfig, "kubeconfig \(file) is not valid YAML: \(error)", file: file)
        }
        guard let root else { return KubeconfigFile() }
        var document: KubeconfigFile
        do {
            document = try YAMLDecoder().decode(KubeconfigFile.self, from: root)
        } catch let error as DecodingError {
            throw ConfigurationError(
                .invalidKubeconfig, "kubeconfig \(file): \(describe(error, root: root))", file: file)
        } catch {
            throw ConfigurationError(.invalidKubeconfig, "kubeconfig \(file): \(error)", file: file)
        }
        try document.checkNames(file: file)
        document.resolvePaths(relativeTo: URL(fileURLWithPath: file).deletingLastPathComponent().path)
        return document
    }

    /// Every entry has a name, used once per list: kubectl refuses duplicates within one file.
    private func checkNames(file: String) throws(ConfigurationError) {
        func check(_ names: [String?], list: String) throws(ConfigurationError) {
            var seen: Set<String> = []
            for (index, name) in names.enumerated() {
                guard let name, !name.isEmpty else {
                    throw ConfigurationError(
                        .invalidKubeconfig, "kubeconfig \(file): \(list)[\(index)] has no name", file: file)
                }
                guard seen.insert(name).inserted else {
                    throw ConfigurationError(
                        .invalidKubeconfig, "kubeconfig \(file): \(list) has two entries named \"\(name)\"",
                        file: file)
                }
            }
        }
        try check((clusters ?? []).map(\.name), list: "clusters")
        try check((users ?? []).map(\.name), list: "users")
        try check((contexts ?? []).map(\.name), list: "contexts")
    }

    /// Makes file references absolute against `directory`, the file's own directory, as kubectl does before merging:
    /// `certificate-authority`, `client-certificate`, `client-key`, `tokenFile`, and an exec `command` that contains a
    /// slash (a bare command name is looked up in `PATH` instead).
    private mutating func resolvePaths(relativeTo directory: String) {
        func resolve(_ path: String?) -> String? {
            guard let path, !path.isEmpty else { return path }
            if path.hasPrefix("/") { return path }
            return URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: directory, isDirectory: true))
                .standardizedFileURL.path
        }
        clusters = clusters?.map { entry in
            guard var cluster = entry.cluster else { return entry }
            cluster.certificateAuthority = resolve(cluster.certificateAuthority)
            return NamedCluster(name: entry.name, cluster: cluster)
        }
        users = users?.map { entry in
            guard var user = entry.user else { return entry }
            user.clientCertificate = resolve(user.clientCertificate)
            user.clientKey = resolve(user.clientKey)
            user.tokenFile = resolve(user.tokenFile)
            if var exec = user.exec, let command = exec.command, command.contains("/") {
                exec.command = resolve(command)
                user.exec = exec
            }
            return NamedUser(name: entry.name, user: user)
        }
    }

    private static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var text = "line \(mark.line), column \(mark.column): \(problem)"
            if let context { text += " (\(context.text) at line \(context.mark.line))" }
            return text
        case .reader(let problem, let offset, _, let yaml):
            guard let offset else { return problem }
            let line = yaml.prefix(offset).filter { $0 == "\n" }.count + 1
            return "line \(line): \(problem)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            return "line \(context.mark.line): duplicate keys \(duplicates.sorted().joined(separator: ", "))"
        default:
            return "\(error)"
        }
    }

    /// A decoding error as `line N: users[0].user.exec.args: expected …`, the line found by walking the YAML.
    private static func describe(_ error: DecodingError, root: Node) -> String {
        let context: DecodingError.Context
        switch error {
        case .dataCorrupted(let c), .keyNotFound(_, let c), .typeMismatch(_, let c), .valueNotFound(_, let c):
            context = c
        @unknown default:
            return "\(error)"
        }
        var path = ""
        var node: Node? = root
        var line = root.mark?.line
        for key in context.codingPath {
            if let index = key.intValue {
                path += "[\(index)]"
                node = node?.sequence.flatMap { index < $0.count ? $0[index] : nil }
            } else {
                path += path.isEmpty ? key.stringValue : ".\(key.stringValue)"
                node = node?[key.stringValue]
            }
            if let mark = node?.mark { line = mark.line }
        }
        var text = context.debugDescription
        if case .typeMismatch(let type, _) = error { text = "expected \(typeName(type))" }
        let location = line.map { "line \($0): " } ?? ""
        return path.isEmpty ? "\(location)\(text)" : "\(location)\(path): \(text)"
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Node.Mapping.Type: "a mapping"
        case is Node.Sequence.Type: "a list"
        case is Node.Scalar.Type: "a single value"
        default: "\(type)"
        }
    }
}
