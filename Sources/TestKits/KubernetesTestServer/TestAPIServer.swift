import Foundation
import KubernetesModel
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// An in-process Kubernetes API server for tests: it speaks the real wire protocol (JSON over HTTP/1.1 over TLS,
/// bearer tokens, `Status` errors, resourceVersions, chunked watch streams with bookmarks, 410 Gone, paging,
/// merge/JSON/apply patches, `/status` and `/scale`) from an in-memory store, with fault injection.
///
/// The controller also runs against a real kube-apiserver, so this server implements only behaviour the real one
/// has, and where it is simpler, says so here.
///
/// ## What clients see (as from a real server)
///
/// - Objects get `metadata.uid`, `creationTimestamp` (RFC 3339, whole seconds), `resourceVersion` (one global
///   counter, as a string), `generation` (types with a spec), `namespace` from the path, `kind`/`apiVersion`.
/// - Errors are `Status` objects with the real reasons and messages. A body whose kind, apiVersion, name or
///   namespace contradicts the path is **400 BadRequest** (as the real handlers answer); a missing name is 422.
/// - List items of built-in types carry no `kind`/`apiVersion` (custom resources' items do); watch event objects
///   always carry them. Lists are sorted in etcd key order (the bytes of `namespace/name`).
/// - POST answers 201; PUT 200 (201 when a Lease or Event is created by PUT); PATCH 200 (201 when apply
///   creates); DELETE 200 with the deleted object. A write that changes nothing keeps the resourceVersion and
///   produces no watch event. `dryRun=All` is honoured.
/// - A watch that loses an object from its selector gets DELETED (last matching state, new resourceVersion);
///   one that gains an object gets ADDED, as from the watch cache.
/// - Creating a CustomResourceDefinition serves its resource (the served storage version, scope, names, `/status`,
///   `/scale`, printer columns for `kubectl get`) and sets its `Established` condition.
/// - An `events.k8s.io/v1` Event is also a `core/v1` Event (converted: `regarding` → `involvedObject`, `note` →
///   `message`, ...) under the same resourceVersion, as both are one storage; `kubectl describe` finds it there.
///
/// ## Simplifications of the real API server
///
/// - **Transport**: HTTP/1.1 with keep-alive only (ALPN offers `http/1.1`; no HTTP/2). JSON only (no protobuf,
///   no CBOR; `Accept` is ignored). No request size limit.
/// - **Authentication**: bearer tokens only, from `Options.tokens` / `setAcceptedTokens`; anonymous access is
///   off (as with `--anonymous-auth=false`), so `/healthz`, `/readyz`, `/livez` and `/version` need a token too.
///   No client certificates, no impersonation. Every token maps to the one user `Options.userName`.
/// - **Authorization**: everything is allowed except what `forbid(verb:resource:subresource:)` denies (by verb
///   and resource name, across all groups and namespaces).
/// - **Discovery**: the legacy documents (`/api`, `/apis`, `/apis/{group}`, `/api/v1`, `/apis/{group}/{version}`)
///   only; no aggregated discovery (`application/json;g=apidiscovery.k8s.io;v=v2`), no OpenAPI. One version per
///   group and resource (no conversion). `/version` reports a fixed v1.33.0.
/// - **Objects**: no admission, no schema validation and no defaulting beyond `spec.replicas` = 1 for
///   Deployments and StatefulSets; names are checked against the RFC 1123 rules. No `managedFields`, no
///   `selfLink`, no owner references / garbage collection, no finalizers and no graceful deletion: DELETE removes
///   the object at once and answers 200 with its last state (carrying the deletion's resourceVersion).
///   Deleting a Namespace removes only the Namespace object. Pods get no `status.phase` on create.
///   Deleting a CRD leaves its resource served. Writes to `core/v1` Events are not mirrored to `events.k8s.io/v1`.
/// - **Namespaces**: `Options.initialNamespaces` exist at start; creating in a missing namespace is 404
///   `namespaces "x" not found` (as for real) unless `Options.requireNamespaces` is false.
/// - **Generation**: 1 on create and +1 when anything outside `metadata` (and `status`, for types with a status
///   subresource) changes, plus annotation changes for Deployments (`ResourceType.annotationsBumpGeneration`).
///   Types without a spec (ConfigMap, Secret, Lease, Event, Namespace) have none. The real per-type rules are a
///   little richer (e.g. Pods).
/// - **Status subresource**: writes to `/status` change only `status` (the real strategies of some types also
///   let labels or annotations through).
/// - **Server-side apply**: no field ownership. The applied configuration is merged into the live object (maps
///   merged recursively, lists and scalars replaced); fields a manager stops applying are not removed, and there
///   are never apply conflicts, so `force` is accepted and has no effect. `fieldManager` is required (422 without
///   it, as for real). The body must be JSON (JSON is YAML); YAML that is not JSON gets **415
///   UnsupportedMediaType** with a message saying so.
/// - **Strategic merge patch** (built-in types only, 415 for custom resources as for real) is applied as a JSON
///   merge patch: lists are replaced, not merged by key.
/// - **Lists**: `resourceVersion` on a list is ignored except with `resourceVersionMatch=Exact` (then the state at
///   that version is served, or 410 when compacted); every other list is served from the latest state.
///   `limit`/`continue` serve consistent pages from the first page's snapshot, as etcd does.
///   Field selectors support `metadata.name`, `metadata.namespace` and the fields listed in
///   `ResourceType.selectableFields`.
/// - **Watches**: no `sendInitialEvents` / streaming lists, no `k8s.io/initial-events-end` bookmark annotation,
///   no legacy `/watch/` paths. A watch from a resourceVersion newer than the current one waits for it (the real
///   server may instead fail after a few seconds). Without `timeoutSeconds` a watch runs until the client,
///   `closeWatches(afterEvents:)` or `stop()` ends it (the real server ends it after 30–60 minutes).
///   Bookmarks come every `Options.bookmarkInterval` seconds when the resourceVersion advanced past what the
///   watch has been told (the real server sends them about once a minute).
/// - **History**: every change is kept until `compact()` (or until more than `Options.compactionLimit` changes
///   are kept, when the oldest fall out); like the real compactor, `compact()` advances the resourceVersion.
/// - **Response delay** (`setResponseDelay`) delays every response, including the start of a watch stream,
///   but not the events of a running watch. The work is done at once; only the answer is late.
public final class TestAPIServer: Sendable {
    /// How to start the server.
    public struct Options: Sendable {
        /// Bearer tokens accepted at start.
        public var tokens: [String]
        /// Seconds between BOOKMARK checks of a watch with `allowWatchBookmarks=true`.
        public var bookmarkInterval: Double
        /// How many changes the event log keeps; when it overflows the oldest resourceVersions become "too old"
        /// (410 Gone for watches and continue tokens from them). Nil keeps everything until `compact()`.
        public var compactionLimit: Int?
        /// Whether creating an object in a namespace that does not exist fails with 404, as for real.
        public var requireNamespaces: Bool
        /// Namespaces that exist at start.
        public var initialNamespaces: [String]
        /// The user every token authenticates as (shown in Forbidden messages).
        public var userName: String

        /// Options with test-friendly defaults: one token `test-token`, bookmarks every second, unlimited
        /// history, namespaces `default`, `kube-system`, `kube-public`, `kube-node-lease`.
        public init(
            tokens: [String] = ["test-token"],
            bookmarkInterval: Double = 1,
            compactionLimit: Int? = nil,
            requireNamespaces: Bool = true,
            initialNamespaces: [String] = ["default", "kube-system", "kube-public", "kube-node-lease"],
            userName: String = "system:serviceaccount:default:test"
        ) {
            self.tokens = tokens
            self.bookmarkInterval = bookmarkInterval
            self.compactionLimit = compactionLimit
            self.requireNamespaces = requireNamespaces
            self.initialNamespaces = initialNamespaces
            self.userName = userName
        }
    }

    /// `https://127.0.0.1:PORT`.
    public let url: URL
    /// The PEM of the CA that signed the serving certificate (SANs `IP:127.0.0.1`, `DNS:localhost`).
    public let caCertificatePEM: String
    /// The CA certificate as a file, for clients (and `curl --cacert`) that want a path.
    public let caCertificatePath: String

    let core: APIServerCore
    private let serverChannel: any Channel
    private let connections: ConnectionRegistry
    private let directory: URL
    private let stopped = Mutex(false)

    private init(
        url: URL,
        certificates: TestCertificates,
        core: APIServerCore,
        serverChannel: any Channel,
        connections: ConnectionRegistry,
        directory: URL
    ) {
        self.url = url
        self.caCertificatePEM = certificates.caCertificatePEM
        self.caCertificatePath = certificates.caCertificatePath
        self.core = core
        self.serverChannel = serverChannel
        self.connections = connections
        self.directory = directory
    }

    /// Generates certificates and starts serving on `127.0.0.1` at a free port.
    public static func start(_ options: Options = .init()) async throws -> TestAPIServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "kubernetes-test-server-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            let certificates = try await TestCertificates.generate(in: directory)
            var tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificates.serverCertificatePath).map {
                    .certificate($0)
                },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: certificates.serverKeyPath, format: .pem))
            )
            tls.minimumTLSVersion = .tlsv12
            tls.applicationProtocols = ["http/1.1"]
            let sslContext = try NIOSSLContext(configuration: tls)
            let core = APIServerCore(options: options)
            let registry = ConnectionRegistry()

            let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    registry.add(channel)
                    return channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(NIOSSLServerHandler(context: sslContext))
                        try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                        try pipeline.addHandler(APIChannelHandler(core: core))
                    }
                }
            let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
            let port = channel.localAddress?.port ?? 0
            core.serverAddress.withLock { $0 = "127.0.0.1:\(port)" }
            return TestAPIServer(
                url: URL(string: "https://127.0.0.1:\(port)")!,
                certificates: certificates,
                core: core,
                serverChannel: channel,
                connections: registry,
                directory: directory
            )
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    /// Stops listening, ends every open watch, closes every connection and removes the temporary files.
    /// Calling it again does nothing.
    public func stop() async throws {
        let alreadyStopped = stopped.withLock { value in
            defer { value = true }
            return value
        }
        guard !alreadyStopped else { return }
        try? await serverChannel.close()
        core.store.withLock { $0.terminateWatches() }
        for channel in connections.all { try? await channel.close() }
        try? FileManager.default.removeItem(at: directory)
    }

    /// A kubeconfig for this server: the CA inline (`certificate-authority-data`), the server URL, a user with
    /// `token`, and one context (current) with `namespace`.
    public func kubeconfig(token: String, namespace: String = "default") -> String {
        func quoted(_ text: String) -> String {
            "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                + "\""
        }
        return """
            apiVersion: v1
            kind: Config
            clusters:
            - name: test-api-server
              cluster:
                server: \(quoted(url.absoluteString))
                certificate-authority-data: \(Data(caCertificatePEM.utf8).base64EncodedString())
            users:
            - name: test-user
              user:
                token: \(quoted(token))
            contexts:
            - name: test
              context:
                cluster: test-api-server
                user: test-user
                namespace: \(quoted(namespace))
            current-context: test

            """
    }

    // MARK: - Store access (no HTTP, no auth, no fault injection)

    /// Creates an object with the semantics of POST (`namespace` comes from the object's metadata, or
    /// `default`). Throws `APIStatusError`.
    @discardableResult
    public func create(_ object: JSONValue, resource: ResourceType) throws -> JSONValue {
        let namespace = resource.namespaced ? (object.namespace.isEmpty ? "default" : object.namespace) : nil
        return try core.store.withLock { store throws(APIStatusError) in
            try store.create(resource, namespace: namespace, body: object)
        }
    }

    /// Replaces an object (or with `subresource: "status"` its status) with the semantics of PUT. The
    /// object's `metadata.resourceVersion` is a precondition when set. Throws `APIStatusError`.
    @discardableResult
    public func update(_ object: JSONValue, resource: ResourceType, subresource: String? = nil) throws -> JSONValue {
        let key = ObjectKey(
            namespace: resource.namespaced ? (object.namespace.isEmpty ? "default" : object.namespace) : "",
            name: object.name
        )
        return try core.store.withLock { store throws(APIStatusError) in
            try store.update(resource, key: key, subresource: subresource, body: object).object
        }
    }

    /// Deletes an object with the semantics of DELETE; returns its last state. Throws `APIStatusError`.
    @discardableResult
    public func delete(resource: ResourceType, namespace: String?, name: String) throws -> JSONValue {
        let key = ObjectKey(namespace: resource.namespaced ? (namespace ?? "default") : "", name: name)
        return try core.store.withLock { store throws(APIStatusError) in
            try store.delete(resource, key: key, preconditions: (nil, nil))
        }
    }

    /// The stored object, or nil.
    public func object(resource: ResourceType, namespace: String?, name: String) -> JSONValue? {
        let key = ObjectKey(namespace: resource.namespaced ? (namespace ?? "default") : "", name: name)
        return core.store.withLock { $0.object(resource, key: key) }
    }

    /// The stored objects of a type (in one namespace, or all), sorted by namespace and name, as served in
    /// watch events (with `kind` and `apiVersion`).
    public func objects(resource: ResourceType, namespace: String? = nil) -> [JSONValue] {
        let filter = ObjectFilter(namespace: resource.namespaced ? namespace : nil)
        return core.store.withLock { $0.objects(resource, filter: filter) }
    }

    /// The current (last issued) resourceVersion.
    public var currentResourceVersion: String {
        String(core.store.withLock { $0.resourceVersion })
    }

    /// Serves another resource type (for example a CRD's), or replaces the description of one.
    public func register(_ type: ResourceType) {
        core.store.withLock { $0.register(type) }
    }

    // MARK: - Fault injection

    /// Replaces the accepted bearer tokens; requests with any other token get 401 from now on (token rotation).
    public func setAcceptedTokens(_ tokens: [String]) {
        core.faults.withLock { $0.tokens = Set(tokens) }
    }

    /// The next `count` authenticated requests (any path, watches included) fail with `status` (429, 500, 503,
    /// 504, ...) and a `Status` body (reason TooManyRequests, InternalError, ServiceUnavailable, Timeout), with a
    /// `Retry-After` header and `details.retryAfterSeconds` when `retryAfterSeconds` is given.
    public func failNextRequests(_ count: Int, status: Int, retryAfterSeconds: Int? = nil) {
        core.faults.withLock { $0.failures = (max(count, 0), status, retryAfterSeconds) }
    }

    /// Delays every response (and the start of every watch stream, but not the events of running watches) by
    /// `seconds`, without blocking the server. 0 turns it off.
    public func setResponseDelay(_ seconds: Double) {
        core.faults.withLock { $0.responseDelay = max(seconds, 0) }
    }

    /// Ends each watch stream cleanly (the terminating chunk; the connection stays open) once it has written
    /// `afterEvents` events. ADDED, MODIFIED, DELETED and ERROR events count, BOOKMARKs do not. The limit is read
    /// after every event, so it also applies to watches already open; nil turns it off.
    public func closeWatches(afterEvents: Int?) {
        core.faults.withLock { $0.closeWatchesAfterEvents = afterEvents }
    }

    /// Compacts the history: every resourceVersion issued so far becomes too old, so watches from them get a 410
    /// `Expired` ERROR event and continue tokens from them 410 Gone. The resourceVersion advances by one (as
    /// with the real compactor's write), and watches and lists from the new one work.
    public func compact() {
        core.store.withLock { $0.compact() }
    }

    /// Denies `verb` (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`) on a
    /// resource (plural name, any group) or one of its subresources with 403 Forbidden, as RBAC would.
    public func forbid(verb: String, resource: String, subresource: String? = nil) {
        let name = subresource.map { "\(resource)/\($0)" } ?? resource
        _ = core.faults.withLock { $0.forbidden.insert("\(verb) \(name)") }
    }

    /// Lifts every `forbid`.
    public func allowAll() {
        core.faults.withLock { $0.forbidden.removeAll() }
    }

    /// Every request answered so far, in order.
    public var requests: [RecordedRequest] {
        core.faults.withLock { $0.requests }
    }

    /// Forgets the recorded requests.
    public func clearRequests() {
        core.faults.withLock { $0.requests.removeAll() }
    }
}

/// Tracks accepted connections so that `stop()` can close them.
final class ConnectionRegistry: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { [weak self] _ in
            _ = self?.channels.withLock { $0.removeValue(forKey: id) }
        }
    }

    var all: [any Channel] { channels.withLock { Array($0.values) } }
}
