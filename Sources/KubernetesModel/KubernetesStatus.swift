import Foundation

/// The API server's `Status` object, which it sends with every error.
public struct KubernetesStatus: Codable, Sendable, Equatable {
    public struct Details: Codable, Sendable, Equatable {
        public var name: String?
        public var group: String?
        public var kind: String?
        public var retryAfterSeconds: Int?
    }

    public var status: String?
    public var message: String?
    public var reason: String?
    public var code: Int?
    public var details: Details?
}
