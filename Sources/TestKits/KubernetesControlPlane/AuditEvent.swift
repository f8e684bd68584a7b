import Foundation

/// One line of the API server's audit log (`audit.k8s.io/v1` `Event`), flattened to what tests ask about.
public struct AuditEvent: Sendable, Hashable, Decodable {
    public var auditID: String
    /// `ResponseComplete` for every event `KubernetesControlPlane.auditEvents()` returns.
    public var stage: String
    /// The API verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, ...), or the HTTP method in
    /// lower case for a non-resource URL.
    public var verb: String
    /// `user.username`: `kubernetes-admin` for `kubectl`, `system:serviceaccount:NS:NAME` for a ServiceAccount.
    public var user: String
    public var groups: [String]
    public var userAgent: String?
    public var requestURI: String
    /// Empty for the core group and for non-resource URLs, as in Kubernetes itself.
    public var apiGroup: String
    /// Nil for a non-resource URL (`/readyz`, `/version`, discovery).
    public var resource: String?
    public var subresource: String?
    public var namespace: String?
    public var name: String?
    /// The HTTP status; nil only when the server sent none (a request cut off by a shutdown).
    public var code: Int?

    public init(
        auditID: String = "", stage: String = "ResponseComplete", verb: String, user: String, groups: [String] = [],
        userAgent: String? = nil, requestURI: String, apiGroup: String = "", resource: String? = nil,
        subresource: String? = nil, namespace: String? = nil, name: String? = nil, code: Int? = nil
    ) {
        self.auditID = auditID
        self.stage = stage
        self.verb = verb
        self.user = user
        self.groups = groups
        self.userAgent = userAgent
        self.requestURI = requestURI
        self.apiGroup = apiGroup
        self.resource = resource
        self.subresource = subresource
        self.namespace = namespace
        self.name = name
        self.code = code
    }

    private enum Keys: String, CodingKey {
        case auditID, stage, verb, user, userAgent, requestURI, objectRef, responseStatus
        case username, groups, apiGroup, resource, subresource, namespace, name, code
    }

    public init(from decoder: any Decoder) throws {
        let event = try decoder.container(keyedBy: Keys.self)
        auditID = try event.decodeIfPresent(String.self, forKey: .auditID) ?? ""
        stage = try event.decode(String.self, forKey: .stage)
        verb = try event.decode(String.self, forKey: .verb)
        requestURI = try event.decode(String.self, forKey: .requestURI)
        userAgent = try event.decodeIfPresent(String.self, forKey: .userAgent)
        let user = try event.nestedContainer(keyedBy: Keys.self, forKey: .user)
        self.user = try user.decodeIfPresent(String.self, forKey: .username) ?? ""
        groups = try user.decodeIfPresent([String].self, forKey: .groups) ?? []
        if event.contains(.objectRef) {
            let object = try event.nestedContainer(keyedBy: Keys.self, forKey: .objectRef)
            apiGroup = try object.decodeIfPresent(String.self, forKey: .apiGroup) ?? ""
            resource = try object.decodeIfPresent(String.self, forKey: .resource)
            subresource = try object.decodeIfPresent(String.self, forKey: .subresource)
            namespace = try object.decodeIfPresent(String.self, forKey: .namespace)
            name = try object.decodeIfPresent(String.self, forKey: .name)
        } else {
            apiGroup = ""
        }
        if event.contains(.responseStatus) {
            code = try event.nestedContainer(keyedBy: Keys.self, forKey: .responseStatus)
                .decodeIfPresent(Int.self, forKey: .code)
        }
    }
}
