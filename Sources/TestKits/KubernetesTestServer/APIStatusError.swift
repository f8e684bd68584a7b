import KubernetesModel

/// A failed request, rendered as the `Status` object the real API server sends.
///
/// Messages and reasons follow `k8s.io/apimachinery/pkg/api/errors` so that clients which match on them (or show
/// them to users) see the same text as against a real cluster.
public struct APIStatusError: Error, Sendable, Equatable {
    /// HTTP status code, also `Status.code`.
    public var code: Int
    /// `Status.reason`: `NotFound`, `Conflict`, `Expired`, ...
    public var reason: String
    /// `Status.message`.
    public var message: String
    /// `Status.details`, nil for none.
    public var details: JSONValue?
    /// `Retry-After` seconds (429/503 and fault injection).
    public var retryAfterSeconds: Int?
    /// `Status.metadata.continue` (set on an expired continue token).
    var continueToken: String?

    init(
        code: Int,
        reason: String,
        message: String,
        details: JSONValue? = nil,
        retryAfterSeconds: Int? = nil
    ) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// The `Status` object, as sent on the wire.
    public var status: JSONValue {
        var metadata: [String: JSONValue] = [:]
        if let continueToken { metadata["continue"] = .string(continueToken) }
        var members: [String: JSONValue] = [
            "kind": .string("Status"), "apiVersion": .string("v1"), "metadata": .object(metadata),
            "status": .string("Failure"),
            "message": .string(message), "reason": .string(reason), "code": .number(Double(code)),
        ]
        if reason.isEmpty { members["reason"] = nil }
        if let details { members["details"] = details }
        return .object(members)
    }

    static func details(name: String?, group: String, kind: String, extra: [String: JSONValue] = [:]) -> JSONValue {
        var members = extra
        if let name, !name.isEmpty { members["name"] = .string(name) }
        if !group.isEmpty { members["group"] = .string(group) }
        if !kind.isEmpty { members["kind"] = .string(kind) }
        return .object(members)
    }

    // MARK: - The errors of k8s.io/apimachinery/pkg/api/errors

    static func notFound(_ type: ResourceType, name: String) -> APIStatusError {
        APIStatusError(
            code: 404,
            reason: "NotFound",
            message: "\(type.qualifiedResource) \"\(name)\" not found",
            details: details(name: name, group: type.group, kind: type.resource)
        )
    }

    static func namespaceNotFound(_ namespace: String) -> APIStatusError {
        APIStatusError(
            code: 404,
            reason: "NotFound",
            message: "namespaces \"\(namespace)\" not found",
            details: details(name: namespace, group: "", kind: "namespaces")
        )
    }

    /// The answer for a path that names no resource (unknown group, version, resource or subresource).
    static let pathNotFound = APIStatusError(
        code: 404,
        reason: "NotFound",
        message: "the server could not find the requested resource",
        details: .object([:])
    )

    static func alreadyExists(_ type: ResourceType, name: String) -> APIStatusError {
        APIStatusError(
            code: 409,
            reason: "AlreadyExists",
            message: "\(type.qualifiedResource) \"\(name)\" already exists",
            details: details(name: name, group: type.group, kind: type.resource)
        )
    }

    static let optimisticLockMessage =
        "the object has been modified; please apply your changes to the latest version and try again"

    static func conflict(_ type: ResourceType, name: String, message: String = optimisticLockMessage) -> APIStatusError
    {
        APIStatusError(
            code: 409,
            reason: "Conflict",
            message: "Operation cannot be fulfilled on \(type.qualifiedResource) \"\(name)\": \(message)",
            details: details(name: name, group: type.group, kind: type.resource)
        )
    }

    /// One field error of an Invalid status, as `field.Error` renders it.
    struct FieldError: Sendable {
        var field: String
        var type: String
        var reason: String
        var detail: String
        var badValue: String?

        static func required(_ field: String, _ detail: String) -> FieldError {
            FieldError(field: field, type: "Required value", reason: "FieldValueRequired", detail: detail)
        }

        static func invalid(_ field: String, value: String, _ detail: String) -> FieldError {
            FieldError(
                field: field,
                type: "Invalid value",
                reason: "FieldValueInvalid",
                detail: detail,
                badValue: value
            )
        }

        var text: String {
            var text = "\(field): \(type)"
            if let badValue { text += ": \(badValue)" }
            if !detail.isEmpty { text += ": \(detail)" }
            return text
        }
    }

    static func invalid(group: String, kind: String, name: String, _ errors: [FieldError]) -> APIStatusError {
        let qualified = group.isEmpty ? kind : "\(kind).\(group)"
        let summary =
            errors.count == 1 ? errors[0].text : "[" + errors.map(\.text).joined(separator: ", ") + "]"
        let causes: [JSONValue] = errors.map { error in
            let message = error.text.dropFirst(error.field.count + 2)
            return .object([
                "reason": .string(error.reason), "message": .string(String(message)), "field": .string(error.field),
            ])
        }
        return APIStatusError(
            code: 422,
            reason: "Invalid",
            message: "\(qualified) \"\(name)\" is invalid: \(summary)",
            details: details(name: name, group: group, kind: kind, extra: ["causes": .array(causes)])
        )
    }

    static func invalid(_ type: ResourceType, name: String, _ errors: [FieldError]) -> APIStatusError {
        invalid(group: type.group, kind: type.kind, name: name, errors)
    }

    static func badRequest(_ message: String) -> APIStatusError {
        APIStatusError(code: 400, reason: "BadRequest", message: message)
    }

    static func methodNotAllowed() -> APIStatusError {
        APIStatusError(
            code: 405,
            reason: "MethodNotAllowed",
            message: "the server does not allow this method on the requested resource",
            details: .object([:])
        )
    }

    static func unsupportedMediaType(_ message: String) -> APIStatusError {
        APIStatusError(code: 415, reason: "UnsupportedMediaType", message: message)
    }

    static let unknownPatchFormat = unsupportedMediaType(
        "the body of the request was in an unknown format - accepted media types include: "
            + "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )

    static let unknownPatchFormatForBuiltIns = unsupportedMediaType(
        "the body of the request was in an unknown format - accepted media types include: "
            + "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, "
            + "application/strategic-merge-patch+json"
    )

    static let unauthorized = APIStatusError(code: 401, reason: "Unauthorized", message: "Unauthorized")

    static func expired(_ message: String) -> APIStatusError {
        APIStatusError(code: 410, reason: "Expired", message: message)
    }

    static func tooOldResourceVersion(_ requested: Int, oldest: Int) -> APIStatusError {
        expired("too old resource version: \(requested) (\(oldest))")
    }

    static func injected(status: Int, retryAfterSeconds: Int?) -> APIStatusError {
        let reason: String
        let message: String
        switch status {
        case 429:
            reason = "TooManyRequests"
            message = "Too many requests, please try again later."
        case 500:
            reason = "InternalError"
            message = "Internal error occurred: injected failure"
        case 503:
            reason = "ServiceUnavailable"
            message = "The server is currently unable to handle the request"
        case 504:
            reason = "Timeout"
            message = "Timeout: request did not complete within the allowed duration"
        default:
            reason = "InternalError"
            message = "injected failure with status \(status)"
        }
        var error = APIStatusError(code: status, reason: reason, message: message, retryAfterSeconds: retryAfterSeconds)
        if let retryAfterSeconds {
            error.details = .object(["retryAfterSeconds": .number(Double(retryAfterSeconds))])
        }
        return error
    }
}
