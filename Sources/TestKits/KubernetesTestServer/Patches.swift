import Foundation
import KubernetesModel

/// The PATCH body formats, by `Content-Type`.
enum PatchFormat: Sendable, Equatable {
    /// `application/merge-patch+json` (RFC 7386).
    case merge
    /// `application/json-patch+json` (RFC 6902).
    case json
    /// `application/strategic-merge-patch+json`, built-in types only; applied as a merge patch here.
    case strategic
    /// `application/apply-patch+yaml` (server-side apply); JSON bodies only here.
    case apply

    /// The format named by a `Content-Type` header (parameters such as `charset` ignored); nil when unsupported.
    init?(contentType: String?) {
        let mediaType = (contentType ?? "").split(separator: ";").first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        switch mediaType {
        case "application/merge-patch+json": self = .merge
        case "application/json-patch+json": self = .json
        case "application/strategic-merge-patch+json": self = .strategic
        case "application/apply-patch+yaml", "application/apply-patch+json": self = .apply
        default: return nil
        }
    }
}

enum Patch {
    /// RFC 7386: objects merge recursively, `null` removes a member, anything else replaces.
    static func mergePatch(_ target: JSONValue, with patch: JSONValue) -> JSONValue {
        guard case .object(let patchMembers) = patch else { return patch }
        var members = target.objectMembers ?? [:]
        for (key, value) in patchMembers {
            if value == .null {
                members[key] = nil
            } else {
                members[key] = mergePatch(members[key] ?? .null, with: value)
            }
        }
        return .object(members)
    }

    /// Merges an applied configuration into the live object: maps merge recursively, lists and scalars are
    /// replaced. This stands in for server-side apply's field ownership (see the simplifications list).
    static func applyMerge(_ live: JSONValue, with applied: JSONValue) -> JSONValue {
        guard case .object(let appliedMembers) = applied, case .object(var members) = live else { return applied }
        for (key, value) in appliedMembers {
            if let existing = members[key] {
                members[key] = applyMerge(existing, with: value)
            } else {
                members[key] = value
            }
        }
        return .object(members)
    }

    /// RFC 6902 with `add`, `remove`, `replace`, `move`, `copy` and `test`. Throws 400 for a malformed patch
    /// document and 422 when an operation cannot be applied (as the API server does).
    static func jsonPatch(_ target: JSONValue, operations: JSONValue) throws(APIStatusError) -> JSONValue {
        guard case .array(let list) = operations else {
            throw .badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
        }
        var document = target
        for operation in list {
            guard let op = operation["op"]?.stringValue, let path = operation["path"]?.stringValue else {
                throw .badRequest(
                    "invalid JSON patch operation: \(String(decoding: operation.serialized, as: UTF8.self))"
                )
            }
            let pointer = try JSONPointer(path)
            switch op {
            case "add":
                guard let value = operation["value"] else { throw missingValue(op) }
                document = try pointer.adding(value, to: document)
            case "remove":
                document = try pointer.removing(from: document).document
            case "replace":
                guard let value = operation["value"] else { throw missingValue(op) }
                _ = try pointer.get(from: document)
                document = try pointer.removing(from: document).document
                document = try pointer.adding(value, to: document)
            case "move":
                guard let from = operation["from"]?.stringValue else { throw missingValue(op) }
                let (removed, value) = try JSONPointer(from).removing(from: document)
                document = try pointer.adding(value, to: removed)
            case "copy":
                guard let from = operation["from"]?.stringValue else { throw missingValue(op) }
                document = try pointer.adding(try JSONPointer(from).get(from: document), to: document)
            case "test":
                guard let value = operation["value"] else { throw missingValue(op) }
                let actual = try pointer.get(from: document)
                guard actual == value else {
                    throw unprocessable("testing value \(path) failed: test failed")
                }
            default:
                throw .badRequest("Unexpected kind: \(op)")
            }
        }
        return document
    }

    private static func missingValue(_ op: String) -> APIStatusError {
        .badRequest("missing value for JSON patch operation \(op)")
    }

    static func unprocessable(_ message: String) -> APIStatusError {
        APIStatusError(code: 422, reason: "Invalid", message: message)
    }
}

/// An RFC 6901 pointer.
private struct JSONPointer {
    var tokens: [String]

    init(_ text: String) throws(APIStatusError) {
        if text.isEmpty {
            tokens = []
            return
        }
        guard text.hasPrefix("/") else {
            throw .badRequest("JSON pointer must be empty or start with a \"/\": \(text)")
        }
        tokens = text.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    var path: String { "/" + tokens.joined(separator: "/") }

    func get(from document: JSONValue) throws(APIStatusError) -> JSONValue {
        var current = document
        for token in tokens {
            switch current {
            case .object(let members):
                guard let next = members[token] else { throw notFound() }
                current = next
            case .array(let items):
                guard let index = Int(token), items.indices.contains(index) else { throw notFound() }
                current = items[index]
            default:
                throw notFound()
            }
        }
        return current
    }

    func adding(_ value: JSONValue, to document: JSONValue) throws(APIStatusError) -> JSONValue {
        try modify(document, tokens[...]) { (container: JSONValue, last: String) throws(APIStatusError) -> JSONValue in
            switch container {
            case .object(var members):
                members[last] = value
                return .object(members)
            case .array(var items):
                if last == "-" {
                    items.append(value)
                } else {
                    guard let index = Int(last), index >= 0, index <= items.count else { throw notFound() }
                    items.insert(value, at: index)
                }
                return .array(items)
            default:
                throw notFound()
            }
        } whole: {
            value
        }
    }

    func removing(from document: JSONValue) throws(APIStatusError) -> (document: JSONValue, removed: JSONValue) {
        var removed = JSONValue.null
        let result = try modify(document, tokens[...]) {
            (container: JSONValue, last: String) throws(APIStatusError) -> JSONValue in
            switch container {
            case .object(var members):
                guard let value = members.removeValue(forKey: last) else { throw notFound() }
                removed = value
                return .object(members)
            case .array(var items):
                guard let index = Int(last), items.indices.contains(index) else { throw notFound() }
                removed = items.remove(at: index)
                return .array(items)
            default:
                throw notFound()
            }
        } whole: {
            removed = document
            return .null
        }
        return (result, removed)
    }

    /// Rebuilds `document` with the container at all-but-the-last token replaced by `change(container, last)`.
    private func modify(
        _ document: JSONValue,
        _ remaining: ArraySlice<String>,
        change: (JSONValue, String) throws(APIStatusError) -> JSONValue,
        whole: () -> JSONValue
    ) throws(APIStatusError) -> JSONValue {
        guard let token = remaining.first else { return whole() }
        if remaining.count == 1 { return try change(document, token) }
        switch document {
        case .object(var members):
            guard let child = members[token] else { throw notFound() }
            members[token] = try modify(child, remaining.dropFirst(), change: change, whole: whole)
            return .object(members)
        case .array(var items):
            guard let index = Int(token), items.indices.contains(index) else { throw notFound() }
            items[index] = try modify(items[index], remaining.dropFirst(), change: change, whole: whole)
            return .array(items)
        default:
            throw notFound()
        }
    }

    private func notFound() -> APIStatusError {
        Patch.unprocessable("doc is missing path: \"\(path)\": missing value")
    }
}
