import Foundation
import KubernetesModel
import Logging
import Synchronization

/// A typed client for the Kubernetes API, over any `HTTPTransport` (libcurl in production).
///
/// Every request carries the bearer token (re-read after a 401), `User-Agent: inference-autoscaler/VERSION`, and
/// passes the client-side rate limiter. Idempotent requests are retried with jittered exponential backoff on
/// connection errors, 429 and 5xx, honouring `Retry-After`; a 429 is retried for any verb, since the server did not
/// act on it. A 409 Conflict is surfaced (`KubernetesError.isConflict`) for the caller to re-read and retry.
///
/// ```swift
/// let config = try ClusterConfigurationLoader.load(kubeconfig: nil, context: nil, environment: env, homeDirectory: home)
/// let client = KubernetesAPIClient(configuration: config)
/// let scale = try await client.scale(.deployments, namespace: "inference", name: "vllm-llama3")
/// _ = try await client.setScale(.deployments, namespace: "inference", name: "vllm-llama3", replicas: scale.desiredReplicas + 1)
/// for try await event in client.watch(InferenceAutoscalePolicy.self, .inferenceAutoscalePolicies, namespace: nil) { … }
/// ```
public final class KubernetesAPIClient: Sendable {
    public struct Options: Sendable {
        public var rateLimit: RateLimiter.Configuration
        public var retry: RetryPolicy
        public var userAgent: String
        /// Seconds for one request (not for watches).
        public var requestTimeout: Double
        /// Told of every answered attempt (the verb, the HTTP status or `error` for a transport failure, seconds),
        /// for metrics; watches are told when their stream starts.
        public var observer: (@Sendable (_ verb: String, _ code: String, _ seconds: Double) -> Void)?

        public init(
            rateLimit: RateLimiter.Configuration = .init(), retry: RetryPolicy = .init(),
            userAgent: String = "inference-autoscaler/\(AutoscalerVersion.current)", requestTimeout: Double = 30,
            observer: (@Sendable (_ verb: String, _ code: String, _ seconds: Double) -> Void)? = nil
        ) {
            self.rateLimit = rateLimit
            self.retry = retry
            self.userAgent = userAgent
            self.requestTimeout = requestTimeout
            self.observer = observer
        }
    }

    /// A JSON merge patch, a JSON patch, or a server-side apply.
    public enum Patch: Sendable {
        /// RFC 7386: members set, `null` removes.
        case merge(JSONValue)
        /// RFC 6902 operations.
        case json([JSONValue])
        /// Server-side apply of a full intent, owned by `fieldManager`.
        case apply(JSONValue, fieldManager: String, force: Bool)

        var contentType: String {
            switch self {
            case .merge: "application/merge-patch+json"
            case .json: "application/json-patch+json"
            case .apply: "application/apply-patch+yaml"
            }
        }

        /// Setting values again gives the same object; a JSON patch may not (`add` to a list).
        var isIdempotent: Bool {
            if case .json = self { return false }
            return true
        }
    }

    public let server: URL
    public let options: Options
    private let transport: any HTTPTransport
    private let credentials: Credentials
    private let limiter: RateLimiter
    private let logger: Logger
    private let discoveryCache = Mutex<[String: [DiscoveredResource]]>([:])

    public init(
        configuration: ClusterConfiguration, options: Options = Options(), transport: (any HTTPTransport)? = nil,
        logger: Logger = Logger(label: "inference-autoscaler.kubernetes")
    ) {
        self.server = configuration.server
        self.options = options
        self.credentials = configuration.credentials
        self.limiter = RateLimiter(options.rateLimit)
        self.logger = logger
        let tls = configuration.tls
        if tls.insecureSkipVerify {
            logger.warning(
                "TLS verification of the API server is off (insecure-skip-tls-verify)",
                metadata: ["kubernetes.server": "\(configuration.server)"])
        }
        self.transport = transport ?? CurlHTTPClient(tls: tls)
    }

    // MARK: - Objects

    public func get<T: Decodable & Sendable>(
        _ type: T.Type, _ resource: APIResource, namespace: String?, name: String, subresource: String? = nil
    ) async throws -> T {
        let response = try await send(
            "GET", resource.path(namespace: namespace, name: name, subresource: subresource), verb: "get",
            resource: resource, subresource: subresource)
        return try decode(T.self, response.body)
    }

    /// One page of a list.
    public func list<T: Decodable & Sendable>(
        _ type: T.Type, _ resource: APIResource, namespace: String? = nil, labelSelector: String? = nil,
        fieldSelector: String? = nil, limit: Int? = nil, continueToken: String? = nil
    ) async throws -> ObjectList<T> {
        var query: [(String, String)] = []
        if let labelSelector { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector { query.append(("fieldSelector", fieldSelector)) }
        if let limit { query.append(("limit", String(limit))) }
        if let continueToken { query.append(("continue", continueToken)) }
        let response = try await send(
            "GET", resource.path(namespace: namespace), query: query, verb: "list", resource: resource)
        return try decode(ObjectList<T>.self, response.body)
    }

    /// Every page of a list, and the resourceVersion of the first (a consistent snapshot to watch from).
    public func listAll<T: Decodable & Sendable>(
        _ type: T.Type, _ resource: APIResource, namespace: String? = nil, labelSelector: String? = nil,
        fieldSelector: String? = nil, pageSize: Int = 500, transform: (@Sendable (T) -> T)? = nil
    ) async throws -> (items: [T], resourceVersion: String) {
        var items: [T] = []
        var token: String?
        var version: String?
        repeat {
            let page = try await list(
                T.self, resource, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector,
                limit: pageSize, continueToken: token)
            // Page by page, so that the whole list is never held in its full form at once.
            items += transform.map { page.items.map($0) } ?? page.items
            version = version ?? page.metadata.resourceVersion
            token = page.metadata.continue.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return (items, version ?? "")
    }

    public func create<T: Codable & Sendable>(
        _ object: T, _ resource: APIResource, namespace: String?
    ) async throws -> T {
        let response = try await send(
            "POST", resource.path(namespace: namespace), body: try encode(object), verb: "create", resource: resource,
            idempotent: false)
        return try decode(T.self, response.body)
    }

    /// PUT: replaces the object. With `metadata.resourceVersion` set, the server refuses a stale write with 409.
    public func update<T: Codable & Sendable>(
        _ object: T, _ resource: APIResource, namespace: String?, name: String, subresource: String? = nil
    ) async throws -> T {
        let response = try await send(
            "PUT", resource.path(namespace: namespace, name: name, subresource: subresource), body: try encode(object),
            verb: "update", resource: resource, subresource: subresource)
        return try decode(T.self, response.body)
    }

    public func patch<T: Decodable & Sendable>(
        _ type: T.Type, _ resource: APIResource, namespace: String?, name: String, _ patch: Patch,
        subresource: String? = nil
    ) async throws -> T {
        var query: [(String, String)] = []
        let body: Data
        switch patch {
        case .merge(let value):
            body = try value.jsonData()
        case .json(let operations):
            body = try JSONValue.array(operations).jsonData()
        case .apply(let value, let fieldManager, let force):
            // JSON is YAML: the server accepts it under the apply content type.
            body = try value.jsonData()
            query.append(("fieldManager", fieldManager))
            if force { query.append(("force", "true")) }
        }
        let response = try await send(
            "PATCH", resource.path(namespace: namespace, name: name, subresource: subresource), query: query,
            body: body, contentType: patch.contentType, verb: "patch", resource: resource, subresource: subresource,
            idempotent: patch.isIdempotent)
        return try decode(T.self, response.body)
    }

    public func delete(_ resource: APIResource, namespace: String?, name: String) async throws {
        _ = try await send(
            "DELETE", resource.path(namespace: namespace, name: name), verb: "delete", resource: resource)
    }

    // MARK: - Subresources

    /// The `/scale` subresource (`autoscaling/v1` Scale) of a Deployment, StatefulSet or any scalable resource.
    public func scale(_ resource: APIResource, namespace: String, name: String) async throws -> Scale {
        try await get(Scale.self, resource, namespace: namespace, name: name, subresource: "scale")
    }

    /// Sets `spec.replicas` through `/scale` with a merge patch.
    public func setScale(_ resource: APIResource, namespace: String, name: String, replicas: Int) async throws -> Scale
    {
        try await patch(
            Scale.self, resource, namespace: namespace, name: name,
            .merge(.object(["spec": .object(["replicas": .number(Double(replicas))])])), subresource: "scale")
    }

    /// Replaces `status` through the `/status` subresource (409 on a stale resourceVersion).
    public func updateStatus<T: Codable & Sendable>(
        _ object: T, _ resource: APIResource, namespace: String?, name: String
    ) async throws -> T {
        try await update(object, resource, namespace: namespace, name: name, subresource: "status")
    }

    /// Merge-patches `status` through the `/status` subresource.
    public func patchStatus<T: Decodable & Sendable>(
        _ type: T.Type, _ resource: APIResource, namespace: String?, name: String, status: JSONValue
    ) async throws -> T {
        try await patch(
            T.self, resource, namespace: namespace, name: name, .merge(.object(["status": status])),
            subresource: "status")
    }

    // MARK: - Watch

    /// One watch connection: events from `resourceVersion` on until the server ends the stream (its timeout, a cut
    /// connection). `Watcher` and `Informer` resume and re-list on top of this.
    public func watch<T: Decodable & Sendable>(
        _ type: T.Type, _ resource: APIResource, namespace: String? = nil, resourceVersion: String? = nil,
        labelSelector: String? = nil, fieldSelector: String? = nil, timeoutSeconds: Int? = nil,
        allowBookmarks: Bool = true
    ) async throws -> WatchEventStream<T> {
        var query: [(String, String)] = [("watch", "1")]
        if let resourceVersion { query.append(("resourceVersion", resourceVersion)) }
        if allowBookmarks { query.append(("allowWatchBookmarks", "true")) }
        if let timeoutSeconds { query.append(("timeoutSeconds", String(timeoutSeconds))) }
        if let labelSelector { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector { query.append(("fieldSelector", fieldSelector)) }
        let path = resource.path(namespace: namespace)
        let response = try await authorized(method: "GET", path: path, query: query, verb: "watch", resource: resource)
        {
            request in
            try await self.transport.stream(request)
        } status: {
            $0.status
        } headers: {
            $0.headers
        } readBody: { response in
            var data = Data()
            for try await chunk in response.body { data.append(chunk) }
            return data
        }
        return WatchEvent<T>.events(from: response.body)
    }

    // MARK: - Discovery

    /// What a `targetRef` names: its resource, and whether it has `/scale`.
    public struct DiscoveredResource: Sendable, Equatable {
        public var resource: APIResource
        public var scalable: Bool
        public var hasStatus: Bool

        public init(resource: APIResource, scalable: Bool, hasStatus: Bool) {
            self.resource = resource
            self.scalable = scalable
            self.hasStatus = hasStatus
        }
    }

    /// Resolves `apiVersion` + `kind` (a `targetRef`) through discovery; cached per group version.
    public func resolve(apiVersion: String, kind: String) async throws -> DiscoveredResource {
        let known: [DiscoveredResource]
        if let cached = discoveryCache.withLock({ $0[apiVersion] }) {
            known = cached
        } else {
            known = try await discover(apiVersion: apiVersion)
            discoveryCache.withLock { $0[apiVersion] = known }
        }
        guard let match = known.first(where: { $0.resource.kind == kind }) else {
            throw KubernetesError(
                code: 404, reason: "NotFound",
                message:
                    "the API server has no kind \(kind) in \(apiVersion) (it has: \(known.map(\.resource.kind).sorted().joined(separator: ", ")))",
                request: "discovery \(apiVersion)")
        }
        return match
    }

    private struct ResourceList: Decodable {
        struct Entry: Decodable {
            var name: String
            var kind: String
            var namespaced: Bool
        }

        var resources: [Entry]
    }

    private func discover(apiVersion: String) async throws -> [DiscoveredResource] {
        let path = apiVersion.contains("/") ? "/apis/\(apiVersion)" : "/api/\(apiVersion)"
        let response = try await send("GET", path, verb: "get", resourceName: "discovery \(apiVersion)")
        let list = try decode(ResourceList.self, response.body)
        let parts = apiVersion.split(separator: "/", maxSplits: 1).map(String.init)
        let group = parts.count == 2 ? parts[0] : ""
        let version = parts.last ?? apiVersion
        let names = Set(list.resources.map(\.name))
        return list.resources.filter { !$0.name.contains("/") }.map { entry in
            DiscoveredResource(
                resource: APIResource(
                    group: group, version: version, name: entry.name, kind: entry.kind, namespaced: entry.namespaced),
                scalable: names.contains("\(entry.name)/scale"), hasStatus: names.contains("\(entry.name)/status"))
        }
    }

    // MARK: - Requests

    /// Sends a request and returns a 2xx response; anything else throws `KubernetesError` (or `HTTPClientError`).
    @discardableResult
    public func send(
        _ method: String, _ path: String, query: [(String, String)] = [], body: Data? = nil,
        contentType: String = "application/json", verb: String, resource: APIResource? = nil,
        subresource: String? = nil, resourceName: String? = nil, idempotent: Bool? = nil
    ) async throws -> HTTPResponse {
        var name = resourceName ?? resource?.description ?? path
        if resourceName == nil, let resource, let subresource { name = "\(resource)/\(subresource)" }
        return try await authorized(
            method: method, path: path, query: query, body: body, contentType: contentType, verb: verb,
            resourceName: name, idempotent: idempotent ?? (method != "POST")
        ) { request in
            try await self.transport.send(request)
        } status: {
            $0.status
        } headers: {
            $0.headers
        } readBody: {
            $0.body
        }
    }

    private func authorized<Response: Sendable>(
        method: String, path: String, query: [(String, String)], body: Data? = nil,
        contentType: String = "application/json", verb: String, resource: APIResource? = nil,
        resourceName: String? = nil, idempotent: Bool = true,
        perform: @Sendable (HTTPRequest) async throws -> Response, status: (Response) -> Int,
        headers: (Response) -> HTTPHeaders, readBody: (Response) async throws -> Data
    ) async throws -> Response {
        let name = resourceName ?? resource?.description ?? path
        var url = server.absoluteString
        while url.hasSuffix("/") { url.removeLast() }
        url += path
        if !query.isEmpty { url += "?" + PercentEncoding.query(query) }
        guard let target = URL(string: url) else {
            throw HTTPClientError(.invalidRequest, "invalid request URL \(url)")
        }
        let isWatch = query.contains { $0.0 == "watch" }
        var request = HTTPRequest(
            method: method, url: target, body: body, timeout: isWatch ? nil : options.requestTimeout)
        request.headers.add("Accept", "application/json")
        request.headers.add("User-Agent", options.userAgent)
        if body != nil { request.headers.add("Content-Type", contentType) }
        let described = "\(method) \(path)"

        var refreshedToken = false
        var attempt = 0
        while true {
            attempt += 1
            if case .token(let source) = credentials {
                let token = try await source.token(refresh: false)
                request.headers.set("Authorization", "Bearer \(token)")
            }
            try await limiter.acquire()
            let response: Response
            let started = ContinuousClock.now
            func observe(_ code: String) {
                guard let observer = options.observer else { return }
                let elapsed = ContinuousClock.now - started
                observer(verb, code, elapsed.seconds)
            }
            do {
                response = try await perform(request)
                observe(String(status(response)))
            } catch let error as HTTPClientError {
                observe("error")
                guard error.isTransient && idempotent && attempt < options.retry.maxAttempts else { throw error }
                let delay = options.retry.delay(afterAttempt: attempt, retryAfter: nil)
                logger.debug(
                    "retrying after a transport error",
                    metadata: ["request": "\(described)", "error": "\(error)", "retry.delay": "\(delay)"])
                try await Task.sleep(for: .seconds(delay))
                continue
            }
            let code = status(response)
            if (200..<300).contains(code) { return response }
            let data = try await readBody(response)

            if code == 401, !refreshedToken, case .token(let source) = credentials {
                // Bound service-account tokens rotate: read the token again once before giving up.
                refreshedToken = true
                let token = try await source.token(refresh: true)
                request.headers.set("Authorization", "Bearer \(token)")
                attempt -= 1
                continue
            }
            let retryable = code == 429 || (idempotent && [500, 502, 503, 504].contains(code))
            if retryable, attempt < options.retry.maxAttempts {
                let retryAfter = headers(response)["Retry-After"].flatMap {
                    Double($0.trimmingCharacters(in: .whitespaces))
                }
                let delay = options.retry.delay(afterAttempt: attempt, retryAfter: retryAfter)
                logger.debug(
                    "retrying",
                    metadata: ["request": "\(described)", "http.status": "\(code)", "retry.delay": "\(delay)"])
                try await Task.sleep(for: .seconds(delay))
                continue
            }
            throw KubernetesError.from(status: code, body: data, request: described, verb: verb, resource: name)
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw KubernetesDecodingError(
                type: String(describing: T.self), underlying: "\(error)",
                body: String(decoding: data.prefix(300), as: UTF8.self))
        }
    }

    private func encode<T: Encodable>(_ object: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return try encoder.encode(object)
    }
}

/// A response body that is not the object it should be.
public struct KubernetesDecodingError: Error, Sendable, CustomStringConvertible {
    public var type: String
    public var underlying: String
    public var body: String

    public var description: String {
        "cannot decode \(type) from the API server's answer: \(underlying); body: \(body)"
    }
}
