import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A bearer token kept in a file: a kubeconfig `tokenFile`, or the in-cluster service-account token.
///
/// Bound service-account tokens are rotated by the kubelet (hourly, by an atomic symlink swap), so the file is
/// checked on every call: a `stat` of the path, and a read only when its identity (device, inode), size or
/// modification time changed since the last read, or when `refresh` is true (after a 401). The token is trimmed of
/// surrounding whitespace; an empty file is an error naming it.
public final class FileToken: BearerTokenSource, CustomStringConvertible {
    /// The token file's path.
    public let path: String
    private let state = Mutex<Cached?>(nil)

    private struct Cached {
        var fingerprint: FileFingerprint
        var token: String
    }

    public init(path: String) {
        self.path = path
    }

    public func token(refresh: Bool) async throws -> String {
        try currentToken(refresh: refresh)
    }

    /// The token, re-read if the file changed or `refresh` is set. Synchronous: a `stat`, and a small read at most.
    func currentToken(refresh: Bool) throws(ConfigurationError) -> String {
        try state.withLock { cached throws(ConfigurationError) -> String in
            // 1. Identify the file as it is now; a path that vanished is an error even if a token was cached.
            let fingerprint = try FileFingerprint(path: path)
            // 2. Unchanged and not asked to reload: the cached token.
            if !refresh, let current = cached, current.fingerprint == fingerprint {
                return current.token
            }
            // 3. Read, trim, and remember what was read against the fingerprint taken before reading: a write racing
            //    the read changes the fingerprint again, so the next call reads once more.
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw ConfigurationError(
                    .unreadableFile, "cannot read token file \(path): \(error.localizedDescription)", file: path)
            }
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else {
                throw ConfigurationError(.emptyToken, "token file \(path) is empty", file: path)
            }
            cached = Cached(fingerprint: fingerprint, token: token)
            return token
        }
    }

    public var description: String { "FileToken(\(path))" }
}

/// What identifies a version of a file without reading it: the inode it resolves to, its size and modification time.
struct FileFingerprint: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modifiedSeconds: Int64
    var modifiedNanoseconds: Int64

    init(path: String) throws(ConfigurationError) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            let code: ConfigurationError.Code = errno == ENOENT ? .fileNotFound : .unreadableFile
            throw ConfigurationError(code, "cannot read token file \(path): \(reason)", file: path)
        }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        #if canImport(Darwin)
        modifiedSeconds = Int64(info.st_mtimespec.tv_sec)
        modifiedNanoseconds = Int64(info.st_mtimespec.tv_nsec)
        #else
        modifiedSeconds = Int64(info.st_mtim.tv_sec)
        modifiedNanoseconds = Int64(info.st_mtim.tv_nsec)
        #endif
    }
}
