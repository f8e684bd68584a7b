import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Start-up (flag parsing, the kubeconfig, TLS set-up, the first lists and reconciles) runs code that the steady state
/// never runs again, and on kernels that keep the page cache in large folios (6.18 here) each of its faults maps the
/// whole folio around the page: at one policy, a third of the controller's resident set is code it ran once. Once the
/// caches have synced and the first round has run, the read-only file mappings (code, read-only data) are advised
/// random access (no readahead, so what faults back in later comes in single pages) and paged out, and the files' other
/// cached pages dropped. The cost is a few hundred page reads from disk as later code first runs.
enum StartUpPages {
    static func release(once synced: @Sendable () -> Bool, after delay: Duration = .seconds(20), logger: Logger) async {
        while !synced() {
            guard (try? await Task.sleep(for: .seconds(1))) != nil else { return }
        }
        guard (try? await Task.sleep(for: delay)) != nil else { return }
        let advised = adviseFileMappings()
        logger.debug("released start-up code pages", metadata: ["advisedMiB": "\(advised / (1 << 20))"])
    }

    /// The read-only mappings of files in `/proc/self/maps` text: (start, length, path).
    static func readOnlyFileMappings(_ maps: String) -> [(start: UInt, length: UInt, path: String)] {
        maps.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            // address perms offset dev inode [path]; inode 0 is anonymous memory, the heap or a stack.
            guard fields.count >= 6, fields[4] != "0", fields[1].count == 4, !fields[1].contains("w") else {
                return nil
            }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let low = UInt(range[0], radix: 16), let high = UInt(range[1], radix: 16),
                high > low
            else { return nil }
            return (low, high - low, fields[5...].joined(separator: " "))
        }
    }

    /// Bytes advised; 0 where there is no `/proc` or no `madvise` (not Linux).
    @discardableResult
    static func adviseFileMappings() -> UInt {
        #if os(Linux)
        // Not String(contentsOfFile:): procfs reports a size of 0.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/maps") else { return 0 }
        defer { try? handle.close() }
        var data = Data()
        while let chunk = try? handle.read(upToCount: 1 << 16), !chunk.isEmpty { data.append(chunk) }
        var advised: UInt = 0
        // MADV_PAGEOUT (Linux 5.4) is not in every libc's headers; an older kernel answers EINVAL and keeps them.
        let pageOut: Int32 = 21
        let mappings = readOnlyFileMappings(String(decoding: data, as: UTF8.self))
        for mapping in mappings {
            let address = UnsafeMutableRawPointer(bitPattern: mapping.start)
            guard madvise(address, Int(mapping.length), MADV_RANDOM) == 0,
                madvise(address, Int(mapping.length), pageOut) == 0
            else { continue }
            advised += mapping.length
        }
        // What is still in the page cache unmapped keeps its large folios, and a later fault would map one whole:
        // let the kernel drop it (clean pages; mapped ones stay), so that it comes back in single pages.
        for path in Set(mappings.map(\.path)) where path.hasPrefix("/") {
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { continue }
            _ = posix_fadvise(descriptor, 0, 0, POSIX_FADV_DONTNEED)
            close(descriptor)
        }
        return advised
        #else
        return 0
        #endif
    }
}
