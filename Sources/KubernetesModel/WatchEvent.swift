import Foundation

/// One event of a watch stream.
public struct WatchEvent<T: Decodable & Sendable>: Sendable {
    public enum Kind: String, Sendable {
        case added = "ADDED", modified = "MODIFIED", deleted = "DELETED", bookmark = "BOOKMARK", error = "ERROR"
    }

    public var type: Kind
    /// The object, for ADDED, MODIFIED and DELETED.
    public var object: T?
    /// The resourceVersion the stream has reached (every event but ERROR carries one).
    public var resourceVersion: String?
    /// The `Status` of an ERROR event (code 410 when the resourceVersion was compacted away).
    public var status: KubernetesStatus?

    public init(type: Kind, object: T? = nil, resourceVersion: String? = nil, status: KubernetesStatus? = nil) {
        self.type = type
        self.object = object
        self.resourceVersion = resourceVersion
        self.status = status
    }
}
