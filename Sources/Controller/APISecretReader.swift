import AutoscalerCore
import Foundation
import KubernetesClient

/// Secrets read through the API, one `get` each: the install grants `get` on the named Secrets only, in the
/// namespaces that need them (README, "Security").
public struct APISecretReader: SecretReader {
    let client: KubernetesAPIClient

    public init(client: KubernetesAPIClient) { self.client = client }

    /// Why a Secret could not be read: the API's answer, which names the Secret and the verb, never a value.
    public struct ReadError: Error, CustomStringConvertible {
        public var description: String
    }

    private struct Secret: Decodable {
        var data: [String: String]?
    }

    public func data(namespace: String, name: String) async throws -> [String: Data] {
        let secret: Secret
        do {
            secret = try await client.get(Secret.self, .secrets, namespace: namespace, name: name)
        } catch let error as KubernetesError {
            throw ReadError(description: "\(error.code) \(error.reason): \(error.message)")
        }
        var values: [String: Data] = [:]
        for (key, encoded) in secret.data ?? [:] {
            guard let value = Data(base64Encoded: encoded) else {
                throw ReadError(description: "key \(key) of Secret \(namespace)/\(name) is not base64")
            }
            values[key] = value
        }
        return values
    }
}
