internal import CCurl
import Foundation
import Synchronization

/// HTTP over libcurl: one curl multi handle driven by a loop on its own thread, bridged to async/await.
///
/// The multi handle keeps a connection cache, so requests to the same server reuse connections (and multiplex over
/// HTTP/2 when the server offers it through ALPN). Blocking libcurl calls never run on Swift's cooperative thread
/// pool. Cancelling the calling task aborts the transfer.
public final class CurlHTTPClient: HTTPTransport, Sendable {
    private let tls: TLSSettings
    private let connectTimeout: Double
    private let loop: MultiLoop

    public init(tls: TLSSettings = TLSSettings(), connectTimeout: Double = 10) {
        CurlGlobal.initialize()
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.loop = MultiLoop()
    }

    deinit {
        loop.shutdown()
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        try Task.checkCancellation()
        let transfer = try Transfer(request: request, tls: tls, connectTimeout: connectTimeout, streaming: false)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                transfer.onComplete = { result in continuation.resume(with: result) }
                loop.add(transfer)
            }
        } onCancel: {
            loop.cancel(transfer)
        }
    }

    public func stream(_ request: HTTPRequest) async throws -> HTTPStreamingResponse {
        try Task.checkCancellation()
        let transfer = try Transfer(request: request, tls: tls, connectTimeout: connectTimeout, streaming: true)
        let (body, bodyContinuation) = AsyncThrowingStream.makeStream(of: Data.self, throwing: (any Error).self)
        transfer.bodyContinuation = bodyContinuation
        let loop = self.loop
        bodyContinuation.onTermination = { termination in
            if case .cancelled = termination { loop.cancel(transfer) }
        }
        let head = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                transfer.onHead = { result in continuation.resume(with: result) }
                loop.add(transfer)
            }
        } onCancel: {
            loop.cancel(transfer)
        }
        return HTTPStreamingResponse(
            status: head.status, headers: head.headers, httpVersion: head.httpVersion, body: body)
    }
}

/// `curl_global_init` must run once, before any other call.
enum CurlGlobal {
    private static let initialized: Bool = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    }()

    static func initialize() { _ = initialized }
}

/// One request in flight. Configured on the caller's thread, then touched only by the loop thread (the C callbacks
/// run there), except for the completion closures, which the loop calls exactly once each.
final class Transfer: @unchecked Sendable {
    struct Head: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var httpVersion: String
    }

    let handle: UnsafeMutableRawPointer
    let streaming: Bool
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var connectTo: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    // Loop-thread state.
    var status = 0
    var headers = HTTPHeaders()
    var body = Data()
    var headDelivered = false
    var finished = false
    /// A cancel that reached the loop before the transfer was added.
    var cancelRequested = false

    var onComplete: (@Sendable (Result<HTTPResponse, any Error>) -> Void)?
    var onHead: (@Sendable (Result<Head, any Error>) -> Void)?
    var bodyContinuation: AsyncThrowingStream<Data, any Error>.Continuation?

    init(request: HTTPRequest, tls: TLSSettings, connectTimeout: Double, streaming: Bool) throws {
        guard let handle = curl_easy_init() else {
            throw HTTPClientError(.other, "curl_easy_init failed")
        }
        self.handle = handle
        self.streaming = streaming
        errorBuffer.initialize(to: 0)
        do {
            try configure(request: request, tls: tls, connectTimeout: connectTimeout)
        } catch {
            release()
            throw error
        }
    }

    private func check(_ code: CURLcode, _ what: String) throws {
        guard code == CURLE_OK else {
            throw HTTPClientError(.invalidRequest, "cannot set \(what): \(String(cString: curl_easy_strerror(code)))")
        }
    }

    private func configure(request: HTTPRequest, tls: TLSSettings, connectTimeout: Double) throws {
        let h = handle
        guard let scheme = request.url.scheme?.lowercased(), scheme == "https" || scheme == "http" else {
            throw HTTPClientError(.invalidRequest, "unsupported URL \(request.url.absoluteString)")
        }
        var url = request.url
        if let serverName = tls.serverName, let host = url.host, host != serverName,
            var components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        {
            // Address the certificate's name and connect to the real host: libcurl then verifies (and sends as SNI)
            // the name, as client-go's ServerName does.
            let port = url.port ?? (scheme == "https" ? 443 : 80)
            components.host = serverName
            if let renamed = components.url { url = renamed }
            connectTo = curl_slist_append(nil, "\(serverName):\(port):\(host):\(port)")
            try check(ia_easy_setopt_slist(h, CURLOPT_CONNECT_TO, connectTo), "CONNECT_TO")
        }
        try check(ia_easy_setopt_string(h, CURLOPT_URL, url.absoluteString), "URL")
        try check(ia_easy_setopt_long(h, CURLOPT_NOSIGNAL, 1), "NOSIGNAL")
        try check(ia_easy_setopt_pointer(h, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer)), "ERRORBUFFER")
        try check(ia_easy_setopt_long(h, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS)), "HTTP_VERSION")
        try check(ia_easy_setopt_long(h, CURLOPT_TCP_KEEPALIVE, 1), "TCP_KEEPALIVE")
        try check(ia_easy_setopt_string(h, CURLOPT_ACCEPT_ENCODING, ""), "ACCEPT_ENCODING")
        try check(ia_easy_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout * 1000)), "CONNECTTIMEOUT")
        if let timeout = request.timeout {
            try check(ia_easy_setopt_long(h, CURLOPT_TIMEOUT_MS, max(1, Int(timeout * 1000))), "TIMEOUT")
        }
        // Redirects are not followed: the API server does not send them, and a redirect must not carry the token.
        try check(ia_easy_setopt_long(h, CURLOPT_FOLLOWLOCATION, 0), "FOLLOWLOCATION")

        switch request.method {
        case "GET":
            try check(ia_easy_setopt_long(h, CURLOPT_HTTPGET, 1), "HTTPGET")
        case "HEAD":
            try check(ia_easy_setopt_long(h, CURLOPT_NOBODY, 1), "NOBODY")
        default:
            try check(ia_easy_setopt_string(h, CURLOPT_CUSTOMREQUEST, request.method), "CUSTOMREQUEST")
        }
        if let body = request.body {
            try check(ia_easy_setopt_off(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)), "POSTFIELDSIZE")
            try body.withUnsafeBytes { bytes in
                // COPYPOSTFIELDS copies the bytes (POSTFIELDSIZE is already set, so NULs are fine).
                let pointer =
                    bytes.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) }
                    ?? UnsafeMutableRawPointer(mutating: ("" as StaticString).utf8Start)
                try check(ia_easy_setopt_pointer(h, CURLOPT_COPYPOSTFIELDS, pointer), "COPYPOSTFIELDS")
            }
        }

        var list: UnsafeMutablePointer<curl_slist>?
        for field in request.headers {
            list = curl_slist_append(list, "\(field.name): \(field.value)")
        }
        // libcurl would otherwise wait for "100 Continue" before sending larger bodies.
        list = curl_slist_append(list, "Expect:")
        headerList = list
        try check(ia_easy_setopt_slist(h, CURLOPT_HTTPHEADER, list), "HTTPHEADER")

        try configureTLS(tls)

        let context = Unmanaged.passUnretained(self).toOpaque()
        try check(ia_easy_setopt_pointer(h, CURLOPT_WRITEDATA, context), "WRITEDATA")
        try check(ia_easy_setopt_data_callback(h, CURLOPT_WRITEFUNCTION, transferWriteCallback), "WRITEFUNCTION")
        try check(ia_easy_setopt_pointer(h, CURLOPT_HEADERDATA, context), "HEADERDATA")
        try check(ia_easy_setopt_data_callback(h, CURLOPT_HEADERFUNCTION, transferHeaderCallback), "HEADERFUNCTION")
        try check(ia_easy_setopt_pointer(h, CURLOPT_PRIVATE, context), "PRIVATE")
    }

    private func configureTLS(_ tls: TLSSettings) throws {
        let h = handle
        if tls.insecureSkipVerify {
            try check(ia_easy_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 0), "SSL_VERIFYPEER")
            try check(ia_easy_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 0), "SSL_VERIFYHOST")
        } else {
            try check(ia_easy_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 1), "SSL_VERIFYPEER")
            try check(ia_easy_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 2), "SSL_VERIFYHOST")
        }
        if tls.caCertificatePEM != nil || tls.caCertificateFile != nil {
            // Trust exactly the configured CA, not the system store as well.
            try check(ia_easy_setopt_string(h, CURLOPT_CAPATH, nil), "CAPATH")
        }
        if let pem = tls.caCertificatePEM {
            try setBlob(CURLOPT_CAINFO_BLOB, pem, "CAINFO_BLOB")
        } else if let file = tls.caCertificateFile {
            try check(ia_easy_setopt_string(h, CURLOPT_CAINFO, file), "CAINFO")
        }
        if let pem = tls.clientCertificatePEM {
            try check(ia_easy_setopt_string(h, CURLOPT_SSLCERTTYPE, "PEM"), "SSLCERTTYPE")
            try setBlob(CURLOPT_SSLCERT_BLOB, pem, "SSLCERT_BLOB")
        } else if let file = tls.clientCertificateFile {
            try check(ia_easy_setopt_string(h, CURLOPT_SSLCERT, file), "SSLCERT")
        }
        if let pem = tls.clientKeyPEM {
            try check(ia_easy_setopt_string(h, CURLOPT_SSLKEYTYPE, "PEM"), "SSLKEYTYPE")
            try setBlob(CURLOPT_SSLKEY_BLOB, pem, "SSLKEY_BLOB")
        } else if let file = tls.clientKeyFile {
            try check(ia_easy_setopt_string(h, CURLOPT_SSLKEY, file), "SSLKEY")
        }
    }

    private func setBlob(_ option: CURLoption, _ data: Data, _ what: String) throws {
        var copy = data
        try copy.withUnsafeMutableBytes { bytes in
            var blob = curl_blob(data: bytes.baseAddress, len: bytes.count, flags: UInt32(CURL_BLOB_COPY))
            try check(ia_easy_setopt_blob(handle, option, &blob), what)
        }
    }

    /// The libcurl error text for a failed transfer.
    func failure(_ code: CURLcode) -> HTTPClientError {
        let detail = String(cString: errorBuffer)
        let text = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        let kind: HTTPClientError.Code
        switch code {
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            kind = .couldNotConnect
        case CURLE_OPERATION_TIMEDOUT:
            kind = .timedOut
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_CRL_BADFILE,
            CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED,
            CURLE_SSL_SHUTDOWN_FAILED:
            kind = .tls
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            kind = .connectionLost
        case CURLE_ABORTED_BY_CALLBACK:
            kind = .cancelled
        default:
            kind = .other
        }
        return HTTPClientError(kind, text, curlCode: Int(code.rawValue))
    }

    var httpVersion: String {
        var version = 0
        _ = ia_easy_getinfo_long(handle, CURLINFO_HTTP_VERSION, &version)
        switch version {
        case Int(CURL_HTTP_VERSION_2_0): return "2"
        case Int(CURL_HTTP_VERSION_1_0): return "1.0"
        default: return "1.1"
        }
    }

    /// Called on the loop thread once libcurl has the whole header block of the final response.
    func deliverHead() {
        guard !headDelivered else { return }
        headDelivered = true
        onHead?(.success(Head(status: status, headers: headers, httpVersion: httpVersion)))
        onHead = nil
    }

    /// Called on the loop thread exactly once, when the transfer ended, failed or was cancelled.
    func finish(_ error: (any Error)?) {
        guard !finished else { return }
        finished = true
        if streaming {
            if let error, !headDelivered {
                headDelivered = true
                onHead?(.failure(error))
                onHead = nil
            } else {
                deliverHead()
            }
            bodyContinuation?.finish(throwing: error)
            bodyContinuation = nil
        } else if let error {
            onComplete?(.failure(error))
        } else {
            var connects = 0
            _ = ia_easy_getinfo_long(handle, CURLINFO_NUM_CONNECTS, &connects)
            onComplete?(
                .success(
                    HTTPResponse(
                        status: status, headers: headers, body: body, httpVersion: httpVersion,
                        newConnection: connects > 0)))
        }
        onComplete = nil
    }

    func release() {
        curl_easy_cleanup(handle)
        curl_slist_free_all(headerList)
        curl_slist_free_all(connectTo)
        headerList = nil
        connectTo = nil
        errorBuffer.deallocate()
    }
}

private func transferWriteCallback(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let data, let context else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    if transfer.streaming {
        transfer.deliverHead()
        transfer.bodyContinuation?.yield(Data(bytes: data, count: length))
    } else {
        transfer.body.append(UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: length)
    }
    return length
}

private func transferHeaderCallback(
    _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
    guard let data, let context else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
        .trimmingCharacters(in: .whitespacesAndNewlines)
    if line.hasPrefix("HTTP/") {
        // A new response begins (after 100 Continue, say): forget the previous one's headers.
        let parts = line.split(separator: " ", maxSplits: 2)
        transfer.status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        transfer.headers = HTTPHeaders()
    } else if line.isEmpty {
        if transfer.streaming, transfer.status >= 200 { transfer.deliverHead() }
    } else if let colon = line.firstIndex(of: ":") {
        let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
        let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
        transfer.headers.add(name, value)
    }
    return length
}

/// Owns the multi handle and the thread that drives it.
final class MultiLoop: @unchecked Sendable {
    private enum Command {
        case add(Transfer)
        case cancel(Transfer)
    }

    private struct Shared {
        var commands: [Command] = []
        var stopping = false
    }

    private let multi: UnsafeMutableRawPointer
    private let shared = Mutex(Shared())
    // Loop-thread state: the transfers added to the multi handle. Keyed by object identity, not by easy handle:
    // a late cancel for a finished transfer must not hit a new transfer that got the same handle address.
    private var active: [ObjectIdentifier: Transfer] = [:]

    init() {
        multi = curl_multi_init()
        _ = ia_multi_setopt_long(multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        let thread = Thread { [self] in run() }
        thread.name = "curl-multi-loop"
        thread.start()
    }

    func add(_ transfer: Transfer) {
        enqueue(.add(transfer))
    }

    func cancel(_ transfer: Transfer) {
        enqueue(.cancel(transfer))
    }

    func shutdown() {
        shared.withLock { $0.stopping = true }
        curl_multi_wakeup(multi)
    }

    private func enqueue(_ command: Command) {
        shared.withLock { $0.commands.append(command) }
        curl_multi_wakeup(multi)
    }

    private func run() {
        var running: Int32 = 0
        while true {
            let (commands, stopping) = shared.withLock { state -> ([Command], Bool) in
                defer { state.commands.removeAll() }
                return (state.commands, state.stopping)
            }
            for command in commands {
                switch command {
                case .add(let transfer):
                    if transfer.cancelRequested {
                        transfer.finish(CancellationError())
                        transfer.release()
                        continue
                    }
                    active[ObjectIdentifier(transfer)] = transfer
                    let code = curl_multi_add_handle(multi, transfer.handle)
                    if code != CURLM_OK {
                        active[ObjectIdentifier(transfer)] = nil
                        transfer.finish(HTTPClientError(.other, String(cString: curl_multi_strerror(code))))
                        transfer.release()
                    }
                case .cancel(let transfer):
                    if active.removeValue(forKey: ObjectIdentifier(transfer)) != nil {
                        curl_multi_remove_handle(multi, transfer.handle)
                        transfer.finish(CancellationError())
                        transfer.release()
                    } else if !transfer.finished {
                        // The add is still queued behind this cancel: it will finish the transfer, once its
                        // completion handler is surely in place.
                        transfer.cancelRequested = true
                    }
                }
            }
            if stopping {
                for transfer in active.values {
                    curl_multi_remove_handle(multi, transfer.handle)
                    transfer.finish(CancellationError())
                    transfer.release()
                }
                active.removeAll()
                curl_multi_cleanup(multi)
                return
            }
            curl_multi_perform(multi, &running)
            var remaining: Int32 = 0
            while let message = curl_multi_info_read(multi, &remaining) {
                guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle else { continue }
                let code = message.pointee.data.result
                var context: UnsafeMutableRawPointer?
                _ = ia_easy_getinfo_pointer(handle, CURLINFO_PRIVATE, &context)
                guard let context else { continue }
                let owner = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
                guard let transfer = active.removeValue(forKey: ObjectIdentifier(owner)) else { continue }
                curl_multi_remove_handle(multi, handle)
                transfer.finish(code == CURLE_OK ? nil : transfer.failure(code))
                transfer.release()
            }
            var descriptors: Int32 = 0
            curl_multi_poll(multi, nil, 0, 1000, &descriptors)
        }
    }
}
