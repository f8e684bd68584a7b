import Foundation
import KubernetesModel

/// Where an object lives within its resource: namespace (empty for cluster-scoped types) and name. Ordered the
/// way lists are sorted.
struct ObjectKey: Sendable, Hashable, Comparable {
    var namespace: String
    var name: String

    /// etcd's order: the bytes of `namespace/name` (`a/x` sorts after `a-b/y`).
    static func < (lhs: ObjectKey, rhs: ObjectKey) -> Bool {
        lhs.text.utf8.lexicographicallyPrecedes(rhs.text.utf8)
    }

    /// `namespace/name`, or the name of a cluster-scoped object: the key suffix etcd sorts by and continue
    /// tokens carry.
    var text: String { namespace.isEmpty ? name : "\(namespace)/\(name)" }
}

/// One change in the event log.
struct LogEntry: Sendable {
    enum Kind: String, Sendable {
        case added = "ADDED"
        case modified = "MODIFIED"
        case deleted = "DELETED"
    }

    var resourceVersion: Int
    var kind: Kind
    var storageKey: String
    var key: ObjectKey
    /// The object after the change; for a deletion the last state carrying the deletion's resourceVersion.
    var object: JSONValue
    /// The object before the change; nil for an addition.
    var previous: JSONValue?
}

/// A line to write on a watch stream, or the instruction to end it.
enum WatchDelivery: Sendable {
    /// A watch event line that counts for `closeWatches(afterEvents:)`.
    case event(Data)
    /// A BOOKMARK line (does not count).
    case bookmark(Data)
    /// End the stream and close the connection (server shutdown).
    case terminate
}

/// An open watch as the store sees it.
struct Watcher: Sendable {
    var type: ResourceType
    var filter: ObjectFilter
    /// Changes at or below this resourceVersion are not sent (a watch from a future resourceVersion waits).
    var startResourceVersion: Int
    /// The highest resourceVersion this watcher has been told about (events sent, or its start).
    var reportedResourceVersion: Int
    var deliver: @Sendable (WatchDelivery) -> Void
}

/// What starting a watch produced.
enum WatchStart: Sendable {
    /// Registered: write these initial lines, then what `deliver` brings.
    case started(id: Int, initialLines: [Data])
    /// The requested resourceVersion is compacted: write this ERROR line and end.
    case expired(Data)
}

/// Options of a list request.
struct ListOptions: Sendable {
    var filter = ObjectFilter()
    var limit: Int?
    var continueToken: String?
    var resourceVersion: String?
    var resourceVersionMatch: String?
}

/// Options of a mutating request.
struct WriteOptions: Sendable {
    var dryRun = false
    var fieldManager: String?
    var force = false
}

/// The in-memory storage of the test API server: objects, the global resourceVersion, the event log that watches
/// and paged lists are served from, and the open watches. A value type guarded by the server's mutex; every
/// method runs inside the lock and must not block.
struct ObjectStore: Sendable {
    private(set) var types: [ResourceType] = []
    private var objects: [String: [ObjectKey: JSONValue]] = [:]
    /// The last issued resourceVersion.
    private(set) var resourceVersion = 1
    private var log: [LogEntry] = []
    /// Watches and continue tokens from a resourceVersion below this get 410 Gone.
    private(set) var oldestValidResourceVersion = 0
    private var watchers: [Int: Watcher] = [:]
    private var nextWatcherID = 1
    let historyLimit: Int?
    let enforceNamespaces: Bool
    let now: @Sendable () -> Date

    init(historyLimit: Int?, enforceNamespaces: Bool, now: @escaping @Sendable () -> Date) {
        self.historyLimit = historyLimit
        self.enforceNamespaces = enforceNamespaces
        self.now = now
    }

    // MARK: - Types

    mutating func register(_ type: ResourceType) {
        types.removeAll { $0.group == type.group && $0.resource == type.resource }
        types.append(type)
    }

    // MARK: - Reads

    func get(_ type: ResourceType, key: ObjectKey) throws(APIStatusError) -> JSONValue {
        guard let object = objects[type.storageKey]?[key] else { throw .notFound(type, name: key.name) }
        return object
    }

    func object(_ type: ResourceType, key: ObjectKey) -> JSONValue? {
        objects[type.storageKey]?[key]
    }

    /// The objects of a type that match `filter`, sorted by key.
    func objects(_ type: ResourceType, filter: ObjectFilter) -> [JSONValue] {
        (objects[type.storageKey] ?? [:]).filter { filter.matches($0.value) }.sorted { $0.key < $1.key }.map(\.value)
    }

    /// The objects of a type as they were at `resourceVersion`, rebuilt by undoing the logged changes made after
    /// it. Requires `resourceVersion >= oldestValidResourceVersion`.
    private func snapshot(_ type: ResourceType, at version: Int) -> [ObjectKey: JSONValue] {
        var state = objects[type.storageKey] ?? [:]
        for entry in log.reversed() {
            guard entry.resourceVersion > version else { break }
            guard entry.storageKey == type.storageKey else { continue }
            state[entry.key] = entry.previous
        }
        return state
    }

    private struct ContinueToken: Codable {
        var v: String
        var rv: Int
        var start: String
    }

    func list(_ type: ResourceType, options: ListOptions) throws(APIStatusError) -> JSONValue {
        // 1. Pick the state to list: the continue token's snapshot, an exact resourceVersion, or the latest.
        var listVersion = resourceVersion
        var startAfter: String?
        if let token = options.continueToken, !token.isEmpty {
            guard let data = Data(base64URLEncoded: token),
                let decoded = try? JSONDecoder().decode(ContinueToken.self, from: data),
                decoded.v == "meta.k8s.io/v1"
            else {
                throw .badRequest("continue key is not valid: illegal base64 data or unsupported token version")
            }
            if decoded.rv > 0 {
                guard decoded.rv >= oldestValidResourceVersion else {
                    var error = APIStatusError.expired(
                        "The provided continue parameter is too old to display a consistent list result. You can "
                            + "start a new list without the continue parameter, or use the continue token in this "
                            + "response to retrieve the remainder of the results. Continuing with the provided token "
                            + "results in an inconsistent list - objects that were created, modified, or deleted "
                            + "between the time the first chunk was returned and now may show up in the list."
                    )
                    error.continueToken = Self.encodeContinue(rv: 0, start: decoded.start)
                    throw error
                }
                listVersion = decoded.rv
            }
            startAfter = decoded.start
        } else if options.resourceVersionMatch == "Exact", let text = options.resourceVersion {
            guard let version = Int(text) else {
                throw .badRequest("resourceVersion: Invalid value: \"\(text)\": must be an integer")
            }
            guard version >= oldestValidResourceVersion else {
                throw .tooOldResourceVersion(version, oldest: oldestValidResourceVersion)
            }
            guard version <= resourceVersion else {
                throw APIStatusError(
                    code: 504,
                    reason: "Timeout",
                    message: "Too large resource version: \(version), current resource version: \(resourceVersion)"
                )
            }
            listVersion = version
        }
        let state = listVersion == resourceVersion ? (objects[type.storageKey] ?? [:]) : snapshot(type, at: listVersion)

        // 2. Filter, sort and page.
        let matching = state.filter { options.filter.matches($0.value) }.sorted { $0.key < $1.key }
        let remaining = matching.filter { entry in
            startAfter.map { $0.utf8.lexicographicallyPrecedes(entry.key.text.utf8) } ?? true
        }
        var page = remaining
        var metadata: [String: JSONValue] = ["resourceVersion": .string(String(listVersion))]
        if let limit = options.limit, limit > 0, remaining.count > limit {
            page = Array(remaining.prefix(limit))
            metadata["continue"] = .string(Self.encodeContinue(rv: listVersion, start: page.last!.key.text))
            if !options.filter.hasSelectors {
                metadata["remainingItemCount"] = .number(Double(remaining.count - limit))
            }
        }
        let items = page.map { type.isCustomResource ? $0.value : $0.value.removing("kind").removing("apiVersion") }
        return .object([
            "kind": .string("\(type.kind)List"), "apiVersion": .string(type.apiVersion),
            "metadata": .object(metadata), "items": .array(items),
        ])
    }

    private static func encodeContinue(rv: Int, start: String) -> String {
        let token = ContinueToken(v: "meta.k8s.io/v1", rv: rv, start: start)
        return ((try? JSONEncoder().encode(token)) ?? Data()).base64URLEncoded
    }

    // MARK: - Writes

    /// Create (POST). Returns the stored object.
    mutating func create(
        _ type: ResourceType,
        namespace: String?,
        body: JSONValue,
        options: WriteOptions = .init()
    ) throws(APIStatusError) -> JSONValue {
        // 1. Type, namespace and name checks, as the create handler and `rest.BeforeCreate` do them.
        var object = try checkedBody(body, type: type, namespace: namespace, name: nil)
        guard object.resourceVersion.isEmpty else {
            throw .badRequest("resourceVersion should not be set on objects to be created")
        }
        var name = object.name
        if name.isEmpty, let prefix = object.metadata["generateName"]?.stringValue, !prefix.isEmpty {
            name = Self.generateName(prefix: prefix)
            object.setMetadata("name", .string(name))
        }
        guard !name.isEmpty else {
            throw .invalid(type, name: "", [.required("metadata.name", "name or generateName is required")])
        }
        try validateName(name, type: type)
        let key = ObjectKey(namespace: type.namespaced ? object.namespace : "", name: name)
        if type.namespaced, enforceNamespaces,
            objects[ResourceType.namespaces.storageKey]?[ObjectKey(namespace: "", name: key.namespace)] == nil
        {
            throw .namespaceNotFound(key.namespace)
        }
        guard objects[type.storageKey]?[key] == nil else { throw .alreadyExists(type, name: name) }

        // 2. System fields (`FillObjectMetaSystemFields`) and the strategy's PrepareForCreate.
        object.setMetadata("uid", .string(UUID().uuidString.lowercased()))
        let seconds = now().timeIntervalSince1970.rounded(.down)
        object.setMetadata("creationTimestamp", .string(Timestamp.format(Date(timeIntervalSince1970: seconds))))
        object.setMetadata("generation", type.tracksGeneration ? .number(1) : nil)
        object.setMetadata("deletionTimestamp", nil)
        object.setMetadata("deletionGracePeriodSeconds", nil)
        object.setMetadata("managedFields", nil)
        if type.hasStatus { object = object.removing("status") }
        if type.storageKey == ResourceType.namespaces.storageKey {
            // The Namespace strategy's PrepareForCreate: phase Active and the `kubernetes` finalizer.
            object.setValue(.object(["phase": .string("Active")]), at: "status")
            object.setValue(.array([.string("kubernetes")]), at: "spec.finalizers")
        }
        applyDefaults(&object, type: type)
        if options.dryRun {
            object.setMetadata("resourceVersion", .string(String(resourceVersion)))
            return object
        }
        return commit(type, key: key, object: object, previous: nil)
    }

    /// Update (PUT) of the object or of its `status` subresource. Returns the stored object and whether it was
    /// created (types with `allowCreateOnUpdate`).
    mutating func update(
        _ type: ResourceType,
        key: ObjectKey,
        subresource: String?,
        body: JSONValue,
        options: WriteOptions = .init()
    ) throws(APIStatusError) -> (object: JSONValue, created: Bool) {
        guard subresource == nil || (subresource == "status" && type.hasStatus) else { throw .pathNotFound }
        let candidate = try checkedBody(
            body,
            type: type,
            namespace: type.namespaced ? key.namespace : nil,
            name: key.name
        )
        guard let existing = objects[type.storageKey]?[key] else {
            if type.allowCreateOnUpdate, subresource == nil {
                var fresh = candidate
                fresh.setMetadata("resourceVersion", nil)
                return (try create(type, namespace: key.namespace, body: fresh, options: options), true)
            }
            throw .notFound(type, name: key.name)
        }
        return (
            try replace(
                type,
                key: key,
                existing: existing,
                candidate: candidate,
                subresource: subresource,
                options: options
            ), false
        )
    }

    /// Applies a PATCH to the object (or its `status`). Server-side apply creates a missing object.
    mutating func patch(
        _ type: ResourceType,
        key: ObjectKey,
        subresource: String?,
        format: PatchFormat,
        body: Data,
        options: WriteOptions
    ) throws(APIStatusError) -> (object: JSONValue, created: Bool) {
        if format == .strategic, type.isCustomResource { throw .unknownPatchFormat }
        if format == .apply {
            guard let manager = options.fieldManager, !manager.isEmpty else {
                throw .invalid(
                    group: "meta.k8s.io",
                    kind: "PatchOptions",
                    name: "",
                    [.required("fieldManager", "is required for apply patch")]
                )
            }
        }
        let patch = try Self.parsePatchBody(body, format: format)
        guard let existing = objects[type.storageKey]?[key] else {
            guard format == .apply, subresource == nil else { throw .notFound(type, name: key.name) }
            let checked = try checkedApplyConfiguration(patch, type: type, key: key)
            return (try create(type, namespace: key.namespace, body: checked, options: options), true)
        }
        let patched: JSONValue
        switch format {
        case .merge, .strategic: patched = Patch.mergePatch(existing, with: patch)
        case .json: patched = try Patch.jsonPatch(existing, operations: patch)
        case .apply:
            patched = Patch.applyMerge(existing, with: try checkedApplyConfiguration(patch, type: type, key: key))
        }
        let checked = try checkedBody(
            patched,
            type: type,
            namespace: type.namespaced ? key.namespace : nil,
            name: key.name
        )
        return (
            try replace(
                type,
                key: key,
                existing: existing,
                candidate: checked,
                subresource: subresource,
                options: options
            ), false
        )
    }

    /// Delete. Returns the deleted object (its last state with the deletion's resourceVersion).
    mutating func delete(
        _ type: ResourceType,
        key: ObjectKey,
        preconditions: (uid: String?, resourceVersion: String?),
        options: WriteOptions = .init()
    ) throws(APIStatusError) -> JSONValue {
        guard let existing = objects[type.storageKey]?[key] else { throw .notFound(type, name: key.name) }
        if let uid = preconditions.uid, !uid.isEmpty, let actual = existing.metadata["uid"]?.stringValue, uid != actual
        {
            throw .conflict(
                type,
                name: key.name,
                message: "Precondition failed: UID in precondition: \(uid), UID in object meta: \(actual)"
            )
        }
        if let version = preconditions.resourceVersion, !version.isEmpty, version != existing.resourceVersion {
            throw .conflict(
                type,
                name: key.name,
                message: "Precondition failed: ResourceVersion in precondition: \(version), ResourceVersion in "
                    + "object meta: \(existing.resourceVersion)"
            )
        }
        if options.dryRun { return existing }
        return commit(type, key: key, object: nil, previous: existing)
    }

    /// Delete collection: deletes every object the filter matches; returns them as a list.
    mutating func deleteCollection(_ type: ResourceType, filter: ObjectFilter, options: WriteOptions) -> JSONValue {
        let matching = (objects[type.storageKey] ?? [:]).filter { filter.matches($0.value) }.sorted { $0.key < $1.key }
        var deleted: [JSONValue] = []
        for (key, object) in matching {
            deleted.append(options.dryRun ? object : commit(type, key: key, object: nil, previous: object))
        }
        let items = deleted.map { type.isCustomResource ? $0 : $0.removing("kind").removing("apiVersion") }
        return .object([
            "kind": .string("\(type.kind)List"), "apiVersion": .string(type.apiVersion),
            "metadata": .object(["resourceVersion": .string(String(resourceVersion))]), "items": .array(items),
        ])
    }

    // MARK: - Scale

    /// The `autoscaling/v1` Scale of a workload.
    func scale(_ type: ResourceType, key: ObjectKey) throws(APIStatusError) -> JSONValue {
        guard let subresource = type.scale else { throw .pathNotFound }
        return Self.scaleObject(of: try get(type, key: key), subresource: subresource)
    }

    static func scaleObject(of object: JSONValue, subresource: ResourceType.ScaleSubresource) -> JSONValue {
        var metadata: [String: JSONValue] = [:]
        for member in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
            if let value = object.metadata[member] { metadata[member] = value }
        }
        let specReplicas = object.value(at: subresource.specReplicasPath)?.intValue ?? 0
        let statusReplicas = object.value(at: subresource.statusReplicasPath)?.intValue ?? 0
        var status: [String: JSONValue] = ["replicas": .number(Double(statusReplicas))]
        if let path = subresource.labelSelectorPath, let selector = object.value(at: path) {
            if let text = selector.stringValue {
                if !text.isEmpty { status["selector"] = .string(text) }
            } else if let parsed = LabelSelector(labelSelectorObject: selector), !parsed.isEmpty {
                status["selector"] = .string(parsed.text)
            }
        }
        return .object([
            "kind": .string("Scale"), "apiVersion": .string("autoscaling/v1"), "metadata": .object(metadata),
            "spec": .object(["replicas": .number(Double(specReplicas))]), "status": .object(status),
        ])
    }

    /// PUT of `/scale`: sets the workload's desired replicas. Returns the new Scale.
    mutating func updateScale(
        _ type: ResourceType,
        key: ObjectKey,
        body: JSONValue,
        options: WriteOptions = .init()
    ) throws(APIStatusError) -> JSONValue {
        guard let subresource = type.scale else { throw .pathNotFound }
        let existing = try get(type, key: key)
        guard body.objectMembers != nil else { throw .badRequest("the body of the request must be a Scale object") }
        if let kind = body["kind"]?.stringValue, !kind.isEmpty, kind != "Scale" {
            throw .badRequest("the object provided is unrecognized (must be of type Scale): kind \(kind)")
        }
        if let apiVersion = body["apiVersion"]?.stringValue, !apiVersion.isEmpty, apiVersion != "autoscaling/v1" {
            throw .badRequest(
                "the API version in the data (\(apiVersion)) does not match the expected API version (autoscaling/v1)"
            )
        }
        if !body.name.isEmpty, body.name != key.name {
            throw .badRequest("the name of the object (\(body.name)) does not match the name on the URL (\(key.name))")
        }
        let replicasValue = body.value(at: "spec.replicas") ?? .number(0)
        guard let replicas = replicasValue.intValue else {
            throw .badRequest(
                "json: cannot unmarshal \(replicasValue) into Go struct field ScaleSpec.spec.replicas of type int32"
            )
        }
        guard replicas >= 0 else {
            throw .invalid(
                group: "autoscaling",
                kind: "Scale",
                name: key.name,
                [.invalid("spec.replicas", value: String(replicas), "must be greater than or equal to 0")]
            )
        }
        if !body.resourceVersion.isEmpty, body.resourceVersion != existing.resourceVersion {
            throw .conflict(type, name: key.name)
        }
        var candidate = existing
        candidate.setValue(.number(Double(replicas)), at: subresource.specReplicasPath)
        let updated = try replace(
            type,
            key: key,
            existing: existing,
            candidate: candidate,
            subresource: "scale",
            options: options
        )
        return Self.scaleObject(of: updated, subresource: subresource)
    }

    /// PATCH of `/scale`: the patch applies to the current Scale, then as a PUT.
    mutating func patchScale(
        _ type: ResourceType,
        key: ObjectKey,
        format: PatchFormat,
        body: Data,
        options: WriteOptions
    ) throws(APIStatusError) -> JSONValue {
        let current = try scale(type, key: key)
        if format == .apply, (options.fieldManager ?? "").isEmpty {
            throw .invalid(
                group: "meta.k8s.io",
                kind: "PatchOptions",
                name: "",
                [.required("fieldManager", "is required for apply patch")]
            )
        }
        let patch = try Self.parsePatchBody(body, format: format)
        let patched: JSONValue
        switch format {
        case .merge, .strategic: patched = Patch.mergePatch(current, with: patch)
        case .json: patched = try Patch.jsonPatch(current, operations: patch)
        case .apply: patched = Patch.applyMerge(current, with: patch)
        }
        return try updateScale(type, key: key, body: patched, options: options)
    }

    // MARK: - Watch

    /// Registers a watch. `resourceVersion` nil or "0": synthetic ADDED events for the current objects first;
    /// otherwise every logged change after it, or an ERROR (410 Expired) when it is compacted.
    mutating func startWatch(
        _ type: ResourceType,
        filter: ObjectFilter,
        resourceVersion requested: String?,
        deliver: @escaping @Sendable (WatchDelivery) -> Void
    ) throws(APIStatusError) -> WatchStart {
        var lines: [Data] = []
        var reported: Int
        var start = resourceVersion
        if let requested, !requested.isEmpty, requested != "0" {
            guard let version = Int(requested) else {
                throw .badRequest("resourceVersion: Invalid value: \"\(requested)\": must be an integer")
            }
            guard version >= oldestValidResourceVersion else {
                let status = APIStatusError.tooOldResourceVersion(version, oldest: oldestValidResourceVersion).status
                return .expired(Self.eventLine(type: "ERROR", object: status))
            }
            reported = version
            start = version
            for entry in log where entry.resourceVersion > version && entry.storageKey == type.storageKey {
                if let line = Self.eventLine(for: entry, filter: filter) {
                    lines.append(line)
                    reported = entry.resourceVersion
                }
            }
        } else {
            reported = 0
            for (_, object) in (objects[type.storageKey] ?? [:]).sorted(by: { $0.key < $1.key })
            where filter.matches(object) {
                lines.append(Self.eventLine(type: "ADDED", object: object))
                reported = max(reported, Int(object.resourceVersion) ?? 0)
            }
        }
        let id = nextWatcherID
        nextWatcherID += 1
        watchers[id] = Watcher(
            type: type,
            filter: filter,
            startResourceVersion: start,
            reportedResourceVersion: reported,
            deliver: deliver
        )
        return .started(id: id, initialLines: lines)
    }

    mutating func stopWatch(_ id: Int) {
        watchers[id] = nil
    }

    /// Sends a BOOKMARK to the watch when the resourceVersion advanced past what it has been told.
    mutating func bookmark(_ id: Int) {
        guard var watcher = watchers[id], resourceVersion > watcher.reportedResourceVersion else { return }
        let object: JSONValue = .object([
            "kind": .string(watcher.type.kind), "apiVersion": .string(watcher.type.apiVersion),
            "metadata": .object(["resourceVersion": .string(String(resourceVersion))]),
        ])
        watcher.reportedResourceVersion = resourceVersion
        watchers[id] = watcher
        watcher.deliver(.bookmark(Self.eventLine(type: "BOOKMARK", object: object)))
    }

    /// Ends every watch (server shutdown).
    mutating func terminateWatches() {
        for watcher in watchers.values { watcher.deliver(.terminate) }
        watchers = [:]
    }

    /// Makes every resourceVersion issued so far too old. Like the real API server's compactor, which records the
    /// compaction with a write of its own, this advances the resourceVersion by one.
    mutating func compact() {
        resourceVersion += 1
        oldestValidResourceVersion = resourceVersion
        log.removeAll()
    }

    static func eventLine(type: String, object: JSONValue) -> Data {
        var line = JSONValue.object(["type": .string(type), "object": object]).serialized
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// The event a watcher with `filter` sees for a logged change, as the watch cache converts it: an object that
    /// starts matching is ADDED, one that stops matching is DELETED (previous state, new resourceVersion).
    static func eventLine(for entry: LogEntry, filter: ObjectFilter) -> Data? {
        let currentMatches = entry.kind != .deleted && filter.matches(entry.object)
        let previousMatches = entry.previous.map(filter.matches) ?? false
        switch (currentMatches, previousMatches) {
        case (true, false):
            return eventLine(type: "ADDED", object: entry.object)
        case (true, true):
            return eventLine(type: "MODIFIED", object: entry.object)
        case (false, true):
            var object = entry.previous!
            object.setMetadata("resourceVersion", .string(String(entry.resourceVersion)))
            return eventLine(type: "DELETED", object: object)
        case (false, false):
            return nil
        }
    }

    // MARK: - Internals

    /// Stores (or with nil removes) an object under a new resourceVersion, logs the change and tells the
    /// watchers. Returns the stored object (for a deletion: the last state with the new resourceVersion).
    private mutating func commit(
        _ type: ResourceType,
        key: ObjectKey,
        object: JSONValue?,
        previous: JSONValue?
    ) -> JSONValue {
        resourceVersion += 1
        var stored = object ?? previous!
        stored.setMetadata("resourceVersion", .string(String(resourceVersion)))
        let isDefinition = type.storageKey == ResourceType.customResourceDefinitions.storageKey
        if isDefinition, object != nil, stored.value(at: "status.conditions") == nil {
            stored = SharedStorage.established(stored, at: now())
        }
        objects[type.storageKey, default: [:]][key] = object == nil ? nil : stored
        let kind: LogEntry.Kind = object == nil ? .deleted : (previous == nil ? .added : .modified)
        append(
            LogEntry(
                resourceVersion: resourceVersion, kind: kind, storageKey: type.storageKey, key: key, object: stored,
                previous: previous))

        // One storage, two versions: core/v1 readers (kubectl describe) see events.k8s.io/v1 Events too.
        if type.storageKey == ResourceType.events.storageKey {
            let core = ResourceType.coreEvents.storageKey
            let converted = SharedStorage.coreEvent(from: stored)
            let before = objects[core]?[key]
            objects[core, default: [:]][key] = object == nil ? nil : converted
            append(
                LogEntry(
                    resourceVersion: resourceVersion, kind: kind, storageKey: core, key: key, object: converted,
                    previous: before))
        }
        if isDefinition, object != nil, let served = SharedStorage.resourceType(fromDefinition: stored) {
            register(served)
        }
        return stored
    }

    /// Logs a change and tells the watchers of its type.
    private mutating func append(_ entry: LogEntry) {
        log.append(entry)
        if let historyLimit, log.count > max(historyLimit, 1) {
            let dropped = log.count - max(historyLimit, 1)
            oldestValidResourceVersion = log[dropped - 1].resourceVersion
            log.removeFirst(dropped)
        }
        for (id, watcher) in watchers
        where watcher.type.storageKey == entry.storageKey && entry.resourceVersion > watcher.startResourceVersion {
            guard let line = Self.eventLine(for: entry, filter: watcher.filter) else { continue }
            watchers[id]?.reportedResourceVersion = entry.resourceVersion
            watcher.deliver(.event(line))
        }
    }

    /// The update path shared by PUT, PATCH and `/scale`: keeps system fields, applies the subresource rules,
    /// checks the resourceVersion precondition, bumps generation, and skips no-op writes (which, as in etcd, keep
    /// the resourceVersion and produce no watch event).
    private mutating func replace(
        _ type: ResourceType,
        key: ObjectKey,
        existing: JSONValue,
        candidate body: JSONValue,
        subresource: String?,
        options: WriteOptions
    ) throws(APIStatusError) -> JSONValue {
        // 1. The resourceVersion precondition.
        let requested = body.resourceVersion
        if requested.isEmpty {
            if !type.allowUnconditionalUpdate {
                throw .invalid(
                    group: type.group,
                    kind: type.resource,
                    name: key.name,
                    [.invalid("metadata.resourceVersion", value: "0x0", "must be specified for an update")]
                )
            }
        } else if requested != existing.resourceVersion {
            throw .conflict(type, name: key.name)
        }
        // 2. The subresource decides which part of the body counts.
        var candidate = body
        switch subresource {
        case "status":
            candidate = existing
            candidate.setValue(body["status"], at: "status")
        case "scale":
            break
        default:
            if type.hasStatus { candidate.setValue(existing["status"], at: "status") }
            applyDefaults(&candidate, type: type)
        }
        // 3. Fields the user cannot change.
        if let uid = candidate.metadata["uid"]?.stringValue, !uid.isEmpty,
            let existingUID = existing.metadata["uid"]?.stringValue, uid != existingUID
        {
            throw .invalid(type, name: key.name, [.invalid("metadata.uid", value: "\"\(uid)\"", "field is immutable")])
        }
        for member in [
            "uid", "creationTimestamp", "generation", "resourceVersion", "deletionTimestamp", "managedFields",
        ] {
            candidate.setMetadata(member, existing.metadata[member])
        }
        if type.namespaced { candidate.setMetadata("namespace", .string(key.namespace)) }
        candidate.setMetadata("name", .string(key.name))
        // 4. Generation: +1 when anything outside metadata (and status, with a status subresource) changed.
        if type.tracksGeneration {
            var excluded = ["metadata"]
            if type.hasStatus { excluded.append("status") }
            let specChanged = Self.removing(excluded, from: candidate) != Self.removing(excluded, from: existing)
            let annotationsChanged =
                type.annotationsBumpGeneration && candidate.metadata["annotations"] != existing.metadata["annotations"]
            if specChanged || annotationsChanged {
                let generation = existing.metadata["generation"]?.intValue ?? 0
                candidate.setMetadata("generation", .number(Double(generation + 1)))
            }
        }
        // 5. No-op writes change nothing.
        if candidate == existing || options.dryRun { return candidate }
        return commit(type, key: key, object: candidate, previous: existing)
    }

    private static func removing(_ keys: [String], from object: JSONValue) -> JSONValue {
        keys.reduce(object) { $0.removing($1) }
    }

    /// The defaulting this server does: spec.replicas of scalable built-in workloads.
    private func applyDefaults(_ object: inout JSONValue, type: ResourceType) {
        if let scale = type.scale, let defaultReplicas = scale.defaultReplicas,
            object.value(at: scale.specReplicasPath) == nil || object.value(at: scale.specReplicasPath) == .null
        {
            object.setValue(.number(Double(defaultReplicas)), at: scale.specReplicasPath)
        }
    }

    /// Checks a request body against the path (the create and update handlers' checks) and fills in `kind`,
    /// `apiVersion` and the namespace.
    private func checkedBody(
        _ body: JSONValue,
        type: ResourceType,
        namespace: String?,
        name: String?
    ) throws(APIStatusError) -> JSONValue {
        guard body.objectMembers != nil else {
            throw .badRequest("the body of the request must be a JSON object of kind \(type.kind)")
        }
        var object = body
        if let kind = body["kind"]?.stringValue, !kind.isEmpty, kind != type.kind {
            throw .badRequest(
                "the object provided is unrecognized (must be of type \(type.kind)): kind \(kind) in \(type.apiVersion)"
            )
        }
        if let apiVersion = body["apiVersion"]?.stringValue, !apiVersion.isEmpty, apiVersion != type.apiVersion {
            throw .badRequest(
                "the API version in the data (\(apiVersion)) does not match the expected API version "
                    + "(\(type.apiVersion))"
            )
        }
        object.setValue(.string(type.kind), at: "kind")
        object.setValue(.string(type.apiVersion), at: "apiVersion")
        if body["metadata"]?.objectMembers == nil { object.setValue(.object([:]), at: "metadata") }
        if let name, !object.name.isEmpty, object.name != name {
            throw .badRequest("the name of the object (\(object.name)) does not match the name on the URL (\(name))")
        }
        if type.namespaced {
            let requested = namespace ?? ""
            if !object.namespace.isEmpty, object.namespace != requested {
                throw .badRequest(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            }
            object.setMetadata("namespace", .string(requested))
        } else {
            object.setMetadata("namespace", nil)
        }
        if let name { object.setMetadata("name", .string(name)) }
        return object
    }

    /// Server-side apply needs `apiVersion`, `kind` and a matching name in the applied configuration.
    private func checkedApplyConfiguration(
        _ patch: JSONValue,
        type: ResourceType,
        key: ObjectKey
    ) throws(APIStatusError) -> JSONValue {
        guard patch.objectMembers != nil else { throw .badRequest("apply patch must be an object") }
        guard let apiVersion = patch["apiVersion"]?.stringValue, !apiVersion.isEmpty else {
            throw .badRequest("invalid object type: /, Kind=: apiVersion must be set")
        }
        guard let kind = patch["kind"]?.stringValue, !kind.isEmpty else {
            throw .badRequest("invalid object type: \(apiVersion), Kind=: kind must be set")
        }
        if patch.name != key.name {
            throw .badRequest("the name of the object (\(patch.name)) does not match the name on the URL (\(key.name))")
        }
        return try checkedBody(patch, type: type, namespace: type.namespaced ? key.namespace : nil, name: key.name)
    }

    static func parsePatchBody(_ body: Data, format: PatchFormat) throws(APIStatusError) -> JSONValue {
        guard let patch = JSONValue.parse(body) else {
            if format == .apply {
                throw .unsupportedMediaType(
                    "the test API server accepts application/apply-patch+yaml bodies only in JSON form (JSON is a "
                        + "subset of YAML); this body is not JSON"
                )
            }
            throw .badRequest("error decoding patch: invalid JSON")
        }
        if format != .json, patch.objectMembers == nil {
            throw .badRequest("error decoding patch: the patch must be a JSON object")
        }
        return patch
    }

    private func validateName(_ name: String, type: ResourceType) throws(APIStatusError) {
        let isLabel = type.storageKey == ResourceType.namespaces.storageKey
        let limit = isLabel ? 63 : 253
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-" + (isLabel ? "" : "."))
        let valid =
            name.count <= limit && name.allSatisfy(allowed.contains)
            && name.first!.isLetterOrDigitASCII && name.last!.isLetterOrDigitASCII
        guard valid else {
            let detail =
                isLabel
                ? "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                    + "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                    + "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
                : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                    + "must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                    + "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            throw .invalid(type, name: name, [.invalid("metadata.name", value: "\"\(name)\"", detail)])
        }
    }

    private static func generateName(prefix: String) -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return prefix + String((0..<5).map { _ in alphabet.randomElement()! })
    }
}

extension Character {
    fileprivate var isLetterOrDigitASCII: Bool {
        isASCII && (isLowercase || isNumber)
    }
}
