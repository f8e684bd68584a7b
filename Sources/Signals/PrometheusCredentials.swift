import AutoscalerCore
import Foundation
import KubernetesModel
import Synchronization

/// Credentials for `--default-prometheus`, from files mounted into the controller's pod (a Secret volume). Files are
/// read when used, so a rotated Secret takes effect without a restart. Never used for another address.
public struct DefaultPrometheusCredentials: Sendable, Equatable {
    public var bearerTokenFile: String?
    public var username: String?
    public var passwordFile: String?
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    /// Extra headers, e.g. the controller's own `X-Scope-OrgID`.
    public var headers: [String: String]

    public init(
        bearerTokenFile: String? = nil, username: String? = nil, passwordFile: String? = nil, caFile: String? = nil,
        certFile: String? = nil, keyFile: String? = nil, headers: [String: String] = [:]
    ) {
        self.bearerTokenFile = bearerTokenFile
        self.username = username
        self.passwordFile = passwordFile
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.headers = headers
    }
}

/// Why credentials could not be had. Its text names the Secret or file and the key, never a value.
public struct CredentialError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Secret values by namespace, name and key, each Secret read at most once per `maxAge` (so a rotation takes effect
/// within it) and again at once when Prometheus answered 401 to what it gave.
final class SecretCache: Sendable {
    private struct Entry {
        var fetchedAt: ContinuousClock.Instant
        var data: [String: Data]
    }

    private let reader: (any SecretReader)?
    private let maxAge: Duration
    private let entries = Mutex<[String: Entry]>([:])

    init(reader: (any SecretReader)?, maxAge: Duration) {
        self.reader = reader
        self.maxAge = maxAge
    }

    func value(of selector: SecretKeySelector, in namespace: String, refresh: Bool = false) async throws -> Data {
        let name = selector.name ?? ""
        let key = selector.key ?? ""
        let id = "\(namespace)/\(name)"
        let now = ContinuousClock.now
        var data = entries.withLock { entries in
            entries[id].flatMap { !refresh && now - $0.fetchedAt < maxAge ? $0.data : nil }
        }
        if data == nil {
            guard let reader else {
                throw CredentialError("Secret \(id): the controller was started without access to Secrets")
            }
            let fetched: [String: Data]
            do {
                fetched = try await reader.data(namespace: namespace, name: name)
            } catch {
                entries.withLock { _ = $0.removeValue(forKey: id) }
                throw CredentialError("cannot read Secret \(id): \(error)")
            }
            entries.withLock { $0[id] = Entry(fetchedAt: now, data: fetched) }
            data = fetched
        }
        guard let value = data?[key] else { throw CredentialError("Secret \(id) has no key \"\(key)\"") }
        return value
    }

    func text(of selector: SecretKeySelector, in namespace: String, refresh: Bool = false) async throws -> String {
        let data = try await value(of: selector, in: namespace, refresh: refresh)
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Reads a mounted credential file, trimmed of surrounding whitespace (a trailing newline is usual).
func readCredentialFile(_ path: String) throws -> String {
    do {
        return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    } catch {
        throw CredentialError("cannot read \(path)")
    }
}
