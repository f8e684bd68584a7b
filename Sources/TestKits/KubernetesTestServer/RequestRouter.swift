import Foundation
import KubernetesModel
import Synchronization

/// An HTTP request as the channel handler collected it.
struct IncomingRequest: Sendable {
    var method: String
    var uri: String
    var headers: [(name: String, value: String)]
    var body: Data

    var path: String {
        let raw =
            uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        return raw.removingPercentEncoding ?? raw
    }

    var rawQuery: String {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        return parts.count > 1 ? String(parts[1]) : ""
    }

    /// Query parameters, form-decoded (`+` is a space); the last of repeated names wins.
    var query: [String: String] {
        var result: [String: String] = [:]
        for pair in rawQuery.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            result[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return result
    }

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// What to send back.
enum Reply: Sendable {
    /// A complete response.
    case response(status: Int, contentType: String, body: Data, retryAfterSeconds: Int?)
    /// A watch stream: head, the initial lines, then deliveries; or an expired watch (one ERROR line, then end).
    case watch(WatchPlan)
}

/// How to run one watch stream.
struct WatchPlan: Sendable {
    /// The store's watcher id; nil for an expired watch that is never registered.
    var id: Int?
    var initialLines: [Data]
    var timeoutSeconds: Int?
    var bookmarkInterval: Double?
}

/// Fault injection and recording state.
struct FaultState: Sendable {
    var tokens: Set<String>
    var failures: (remaining: Int, status: Int, retryAfterSeconds: Int?) = (0, 500, nil)
    var responseDelay: Double = 0
    var closeWatchesAfterEvents: Int?
    var forbidden: Set<String> = []
    var requests: [RecordedRequest] = []
}

/// A request the server answered, for assertions in tests.
public struct RecordedRequest: Sendable, Equatable {
    /// `GET`, `POST`, ...
    public var method: String
    /// The path without the query.
    public var path: String
    /// The raw (still percent-encoded) query string, without `?`.
    public var rawQuery: String
    /// Decoded query parameters.
    public var query: [String: String]
    /// Request headers with lowercased names; the `authorization` value is replaced by `<redacted>`.
    public var headers: [String: String]
    /// The request body.
    public var body: Data
    /// The response status (200 for a watch stream, whose errors come as events).
    public var status: Int
    /// The bearer token presented, to tell clients apart (test tokens are not secrets).
    public var bearerToken: String? = nil

    /// The `User-Agent` header.
    public var userAgent: String? { headers["user-agent"] }
    /// Whether an `Authorization` header was present.
    public var hasAuthorization: Bool { headers["authorization"] != nil }
    /// The `Content-Type` header.
    public var contentType: String? { headers["content-type"] }
    /// Whether the request was a watch.
    public var isWatch: Bool { ["1", "true", "t", "True", "TRUE"].contains(query["watch"] ?? "") }
}

/// The request logic of the server: authentication, fault injection, authorization, routing and the store.
/// Thread-safe; every call is short and never blocks (locks are held only around in-memory work).
final class APIServerCore: Sendable {
    let options: TestAPIServer.Options
    let store: Mutex<ObjectStore>
    let faults: Mutex<FaultState>
    let serverAddress: Mutex<String>

    init(options: TestAPIServer.Options) {
        self.options = options
        var store = ObjectStore(
            historyLimit: options.compactionLimit,
            enforceNamespaces: options.requireNamespaces,
            now: { Date() }
        )
        for type in ResourceType.preregistered { store.register(type) }
        for namespace in options.initialNamespaces {
            _ = try? store.create(
                .namespaces,
                namespace: nil,
                body: .object(["metadata": .object(["name": .string(namespace)])])
            )
        }
        self.store = Mutex(store)
        self.faults = Mutex(FaultState(tokens: Set(options.tokens)))
        self.serverAddress = Mutex("127.0.0.1:0")
    }

    /// Answers one request. `makeDeliver` is called only for a watch and returns the sink its events go to.
    func handle(_ request: IncomingRequest, makeDeliver: () -> @Sendable (WatchDelivery) -> Void) -> Reply {
        let reply: Reply
        do throws(APIStatusError) {
            reply = try route(request, makeDeliver: makeDeliver)
        } catch {
            reply = .response(
                status: error.code,
                contentType: "application/json",
                body: error.status.serialized,
                retryAfterSeconds: error.retryAfterSeconds
            )
        }
        record(request, reply: reply)
        return reply
    }

    private func record(_ request: IncomingRequest, reply: Reply) {
        var headers: [String: String] = [:]
        for (name, value) in request.headers {
            headers[name.lowercased()] = name.lowercased() == "authorization" ? "<redacted>" : value
        }
        let status: Int
        switch reply {
        case .response(let code, _, _, _): status = code
        case .watch: status = 200
        }
        let recorded = RecordedRequest(
            method: request.method,
            path: request.path,
            rawQuery: request.rawQuery,
            query: request.query,
            headers: headers,
            body: request.body,
            status: status,
            bearerToken: Self.bearerToken(request)
        )
        faults.withLock { $0.requests.append(recorded) }
    }

    static func bearerToken(_ request: IncomingRequest) -> String? {
        let parts = (request.header("authorization") ?? "").split(separator: " ", maxSplits: 1)
        return parts.count == 2 && parts[0].lowercased() == "bearer" ? String(parts[1]) : nil
    }

    // MARK: - Routing

    private func route(
        _ request: IncomingRequest,
        makeDeliver: () -> @Sendable (WatchDelivery) -> Void
    ) throws(APIStatusError) -> Reply {
        // 1. Authentication: a bearer token from the accepted set.
        let token = Self.bearerToken(request)
        let accepted = faults.withLock { state in token.map(state.tokens.contains) ?? false }
        guard accepted else { throw .unauthorized }

        // 2. Injected failures.
        let injected = faults.withLock { state -> APIStatusError? in
            guard state.failures.remaining > 0 else { return nil }
            state.failures.remaining -= 1
            return .injected(status: state.failures.status, retryAfterSeconds: state.failures.retryAfterSeconds)
        }
        if let injected { throw injected }

        // 3. Non-resource paths and discovery.
        let segments = request.path.split(separator: "/").map(String.init)
        let types = store.withLock { $0.types }
        switch segments {
        case ["healthz"], ["readyz"], ["livez"]:
            return .response(
                status: 200,
                contentType: "text/plain; charset=utf-8",
                body: Data("ok".utf8),
                retryAfterSeconds: nil
            )
        case ["version"]:
            return try discovery(request, Discovery.version())
        case ["api"]:
            return try discovery(request, Discovery.apiVersions(serverAddress: serverAddress.withLock { $0 }))
        case ["apis"]:
            return try discovery(request, Discovery.groupList(types: types))
        default:
            break
        }
        let group: String
        let version: String
        let rest: ArraySlice<String>
        if segments.first == "api", segments.count >= 2 {
            (group, version, rest) = ("", segments[1], segments.dropFirst(2))
        } else if segments.first == "apis", segments.count == 2 {
            guard let document = Discovery.group(segments[1], types: types) else { throw .pathNotFound }
            return try discovery(request, document)
        } else if segments.first == "apis", segments.count >= 3 {
            (group, version, rest) = (segments[1], segments[2], segments.dropFirst(3))
        } else {
            throw .pathNotFound
        }
        if rest.isEmpty {
            guard let document = Discovery.resourceList(group: group, version: version, types: types) else {
                throw .pathNotFound
            }
            return try discovery(request, document)
        }

        // 4. Resource paths.
        let target = try resolve(group: group, version: version, rest: Array(rest), types: types)
        return try serve(request, target: target, makeDeliver: makeDeliver)
    }

    private func discovery(_ request: IncomingRequest, _ document: JSONValue) throws(APIStatusError) -> Reply {
        guard request.method == "GET" else { throw .methodNotAllowed() }
        return .response(
            status: 200,
            contentType: "application/json",
            body: document.serialized,
            retryAfterSeconds: nil
        )
    }

    /// A resource path resolved against the registered types.
    struct Target {
        var type: ResourceType
        var namespace: String?
        var name: String?
        var subresource: String?
    }

    private func resolve(
        group: String,
        version: String,
        rest: [String],
        types: [ResourceType]
    ) throws(APIStatusError) -> Target {
        func lookup(_ resource: String) -> ResourceType? {
            types.first { $0.group == group && $0.version == version && $0.resource == resource }
        }
        var namespace: String?
        var remaining = rest[...]
        // `namespaces/{ns}/{resource}...` addresses namespaced objects; `namespaces/{name}[/{sub}]` the namespace.
        if remaining.count >= 3, remaining.first == "namespaces",
            let type = lookup(remaining[remaining.startIndex + 2]),
            type.namespaced
        {
            namespace = remaining[remaining.startIndex + 1]
            remaining = remaining.dropFirst(2)
        }
        guard let resource = remaining.first, let type = lookup(resource) else { throw .pathNotFound }
        remaining = remaining.dropFirst()
        let name = remaining.first
        let subresource = remaining.dropFirst().first
        guard remaining.count <= 2 else { throw .pathNotFound }
        if type.namespaced, namespace == nil, name != nil { throw .pathNotFound }
        if let subresource {
            let known = (subresource == "status" && type.hasStatus) || (subresource == "scale" && type.scale != nil)
            guard known else { throw .pathNotFound }
        }
        return Target(type: type, namespace: namespace, name: name, subresource: subresource)
    }

    // MARK: - Serving resources

    private func serve(
        _ request: IncomingRequest,
        target: Target,
        makeDeliver: () -> @Sendable (WatchDelivery) -> Void
    ) throws(APIStatusError) -> Reply {
        let query = request.query
        let isWatch = ["1", "t", "T", "true", "True", "TRUE"].contains(query["watch"] ?? "")
        let type = target.type

        // 1. The verb, as the API server's RequestInfo names it, and the authorization check.
        let verb: String
        switch (request.method, target.name) {
        case ("GET", nil): verb = isWatch ? "watch" : "list"
        case ("GET", _): verb = "get"
        case ("POST", nil): verb = "create"
        case ("PUT", .some): verb = "update"
        case ("PATCH", .some): verb = "patch"
        case ("DELETE", nil): verb = "deletecollection"
        case ("DELETE", .some): verb = "delete"
        default: throw .methodNotAllowed()
        }
        if target.subresource != nil, !["get", "update", "patch"].contains(verb) { throw .methodNotAllowed() }
        if verb == "create", type.namespaced, target.namespace == nil { throw .methodNotAllowed() }
        try authorize(verb: verb, target: target)

        let writeOptions = WriteOptions(
            dryRun: query["dryRun"] == "All",
            fieldManager: query["fieldManager"],
            force: ["1", "true", "True", "TRUE", "t"].contains(query["force"] ?? "")
        )
        let key = ObjectKey(namespace: target.namespace ?? "", name: target.name ?? "")

        func ok(_ object: JSONValue, status: Int = 200) -> Reply {
            .response(status: status, contentType: "application/json", body: object.serialized, retryAfterSeconds: nil)
        }
        func body() throws(APIStatusError) -> JSONValue {
            guard let value = JSONValue.parse(request.body) else {
                throw .badRequest("the body of the request could not be decoded as JSON")
            }
            return value
        }

        // 2. The operation.
        switch (verb, target.subresource) {
        case ("list", _):
            var listOptions = ListOptions(filter: try filter(query, target: target))
            if let limitText = query["limit"], !limitText.isEmpty {
                guard let limit = Int(limitText), limit >= 0 else {
                    throw .badRequest("limit: Invalid value: \"\(limitText)\": must be a non-negative integer")
                }
                listOptions.limit = limit
            }
            listOptions.continueToken = query["continue"]
            listOptions.resourceVersion = query["resourceVersion"]
            listOptions.resourceVersionMatch = query["resourceVersionMatch"]
            let options = listOptions
            let list = try store.withLock { store throws(APIStatusError) in try store.list(type, options: options) }
            if TablePrinting.wantsTable(request.header("accept")), case .array(let items)? = list["items"] {
                var version: String?
                if case .string(let text)? = list["metadata"]?["resourceVersion"] { version = text }
                return ok(TablePrinting.table(items, type: type, resourceVersion: version, now: Date()))
            }
            return ok(list)

        case ("watch", _):
            let watchFilter = try filter(query, target: target)
            var timeout: Int?
            if let text = query["timeoutSeconds"], !text.isEmpty {
                guard let seconds = Int(text), seconds >= 0 else {
                    throw .badRequest("timeoutSeconds: Invalid value: \"\(text)\": must be a non-negative integer")
                }
                // 0 means "the server's default", which here is no limit.
                timeout = seconds == 0 ? nil : seconds
            }
            let bookmarks = ["1", "true", "True", "TRUE", "t"].contains(query["allowWatchBookmarks"] ?? "")
            let deliver = makeDeliver()
            let start = try store.withLock { store throws(APIStatusError) in
                try store.startWatch(
                    type,
                    filter: watchFilter,
                    resourceVersion: query["resourceVersion"],
                    deliver: deliver
                )
            }
            switch start {
            case .started(let id, let lines):
                return .watch(
                    WatchPlan(
                        id: id,
                        initialLines: lines,
                        timeoutSeconds: timeout,
                        bookmarkInterval: bookmarks ? options.bookmarkInterval : nil
                    )
                )
            case .expired(let line):
                return .watch(WatchPlan(id: nil, initialLines: [line], timeoutSeconds: nil, bookmarkInterval: nil))
            }

        case ("get", nil):
            let object = try store.withLock { store throws(APIStatusError) in try store.get(type, key: key) }
            if TablePrinting.wantsTable(request.header("accept")) {
                return ok(TablePrinting.table([object], type: type, resourceVersion: nil, now: Date()))
            }
            return ok(object)

        case ("get", "status"):
            return ok(try store.withLock { store throws(APIStatusError) in try store.get(type, key: key) })

        case ("get", "scale"):
            return ok(try store.withLock { store throws(APIStatusError) in try store.scale(type, key: key) })

        case ("create", _):
            let object = try body()
            let created = try store.withLock { store throws(APIStatusError) in
                try store.create(type, namespace: target.namespace, body: object, options: writeOptions)
            }
            return ok(created, status: 201)

        case ("update", "scale"):
            let object = try body()
            return ok(
                try store.withLock { store throws(APIStatusError) in
                    try store.updateScale(type, key: key, body: object, options: writeOptions)
                }
            )

        case ("update", let subresource):
            let object = try body()
            let result = try store.withLock { store throws(APIStatusError) in
                try store.update(type, key: key, subresource: subresource, body: object, options: writeOptions)
            }
            return ok(result.object, status: result.created ? 201 : 200)

        case ("patch", let subresource):
            guard let format = PatchFormat(contentType: request.header("content-type")) else {
                throw type.isCustomResource ? .unknownPatchFormat : .unknownPatchFormatForBuiltIns
            }
            let patchBody = request.body
            if subresource == "scale" {
                return ok(
                    try store.withLock { store throws(APIStatusError) in
                        try store.patchScale(type, key: key, format: format, body: patchBody, options: writeOptions)
                    }
                )
            }
            let result = try store.withLock { store throws(APIStatusError) in
                try store.patch(
                    type,
                    key: key,
                    subresource: subresource,
                    format: format,
                    body: patchBody,
                    options: writeOptions
                )
            }
            return ok(result.object, status: result.created ? 201 : 200)

        case ("delete", _):
            var uid: String?
            var resourceVersion: String?
            var dryRun = writeOptions.dryRun
            if !request.body.isEmpty {
                let deleteOptions = try body()
                uid = deleteOptions.value(at: "preconditions.uid")?.stringValue
                resourceVersion = deleteOptions.value(at: "preconditions.resourceVersion")?.stringValue
                if deleteOptions["dryRun"]?.arrayValue?.contains(.string("All")) == true { dryRun = true }
            }
            var options = writeOptions
            options.dryRun = dryRun
            let deleteOptions = options
            let preconditions = (uid, resourceVersion)
            return ok(
                try store.withLock { store throws(APIStatusError) in
                    try store.delete(type, key: key, preconditions: preconditions, options: deleteOptions)
                }
            )

        case ("deletecollection", _):
            let collectionFilter = try filter(query, target: target)
            return ok(store.withLock { $0.deleteCollection(type, filter: collectionFilter, options: writeOptions) })

        default:
            throw .methodNotAllowed()
        }
    }

    private func filter(_ query: [String: String], target: Target) throws(APIStatusError) -> ObjectFilter {
        var filter = ObjectFilter(namespace: target.type.namespaced ? target.namespace : nil)
        if let text = query["labelSelector"], !text.isEmpty { filter.labels = try LabelSelector(parsing: text) }
        if let text = query["fieldSelector"], !text.isEmpty {
            filter.fields = try FieldSelector(parsing: text, type: target.type)
        }
        return filter
    }

    /// RBAC-style denial for the verbs forbidden by `forbid(verb:resource:subresource:)`.
    private func authorize(verb: String, target: Target) throws(APIStatusError) {
        let type = target.type
        let resource = target.subresource.map { "\(type.resource)/\($0)" } ?? type.resource
        let denied = faults.withLock { $0.forbidden.contains("\(verb) \(resource)") }
        guard denied else { return }
        let scope = target.namespace.map { "in the namespace \"\($0)\"" } ?? "at the cluster scope"
        let subject = target.name.map { "\(type.qualifiedResource) \"\($0)\"" } ?? type.qualifiedResource
        throw APIStatusError(
            code: 403,
            reason: "Forbidden",
            message: "\(subject) is forbidden: User \"\(options.userName)\" cannot \(verb) resource \"\(resource)\" "
                + "in API group \"\(type.group)\" \(scope)",
            details: APIStatusError.details(name: target.name, group: type.group, kind: type.resource)
        )
    }
}
