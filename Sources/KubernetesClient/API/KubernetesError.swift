import Foundation
import KubernetesModel

/// A request the API server answered with an error.
public struct KubernetesError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status (404, 409, 410, 403, 429, …).
    public var code: Int
    /// `Status.reason`: `NotFound`, `Conflict`, `AlreadyExists`, `Expired`, `Forbidden`, `TooManyRequests`, …
    public var reason: String
    public var message: String
    public var status: KubernetesStatus?
    /// What was asked: `GET /apis/apps/v1/namespaces/inference/deployments/x/scale`.
    public var request: String

    public init(code: Int, reason: String, message: String, status: KubernetesStatus? = nil, request: String) {
        self.code = code
        self.reason = reason
        self.message = message
        self.status = status
        self.request = request
    }

    public var description: String {
        "\(request): \(code) \(reason): \(message)"
    }

    public var isNotFound: Bool { code == 404 }
    /// 409 with reason Conflict: the object changed since it was read; read it again and retry.
    public var isConflict: Bool { code == 409 && reason != "AlreadyExists" }
    public var isAlreadyExists: Bool { code == 409 && reason == "AlreadyExists" }
    /// 410: the resourceVersion is too old (compacted); list again.
    public var isGone: Bool { code == 410 }
    public var isForbidden: Bool { code == 403 }
    public var isUnauthorized: Bool { code == 401 }

    /// Builds the error from a response; a body that is not a `Status` still gives a readable message.
    static func from(status code: Int, body: Data, request: String, verb: String, resource: String) -> KubernetesError {
        let decoded = try? JSONDecoder().decode(KubernetesStatus.self, from: body)
        var message = decoded?.message ?? String(decoding: body.prefix(500), as: UTF8.self)
        if message.isEmpty { message = "HTTP \(code)" }
        let reason = decoded?.reason ?? defaultReason(code)
        if code == 403 {
            // Say what RBAC refused, so that the missing rule is obvious.
            message = "RBAC refused \(verb) on \(resource): \(message)"
        }
        return KubernetesError(code: code, reason: reason, message: message, status: decoded, request: request)
    }

    static func defaultReason(_ code: Int) -> String {
        switch code {
        case 400: "BadRequest"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "NotFound"
        case 405: "MethodNotAllowed"
        case 409: "Conflict"
        case 410: "Expired"
        case 415: "UnsupportedMediaType"
        case 422: "Invalid"
        case 429: "TooManyRequests"
        case 500: "InternalError"
        case 503: "ServiceUnavailable"
        case 504: "Timeout"
        default: "Unknown"
        }
    }
}
