import Foundation
import KubernetesClient
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("FileToken")
struct FileTokenTests {
    /// A fixed modification time, so a rewrite can put it back exactly.
    static let fixedTime = Date(timeIntervalSince1970: 1_700_000_000)

    private func setModificationTime(_ path: String) throws {
        try FileManager.default.setAttributes([.modificationDate: Self.fixedTime], ofItemAtPath: path)
    }

    @Test func readsAndTrims() async throws {
        let fixtures = try ConfigFixtures()
        let source = FileToken(path: fixtures.path("tokens/prod-token"))
        #expect(try await source.token(refresh: false) == "prod-token-456")
    }

    @Test func rereadsWhenTheFileChanges() async throws {
        let fixtures = try ConfigFixtures()
        let path = try fixtures.write("tokens/rotating", "first-token\n")
        let source = FileToken(path: path)
        #expect(try await source.token(refresh: false) == "first-token")
        try fixtures.write("tokens/rotating", "second-token-longer\n")
        #expect(try await source.token(refresh: false) == "second-token-longer")
    }

    @Test func rereadsWhenTheFileIsReplacedAtomically() async throws {
        // The kubelet rotates projected tokens by swapping a symlink: same size and time can still be a new file.
        let fixtures = try ConfigFixtures()
        let path = try fixtures.write("tokens/projected", "token-aaaa")
        try setModificationTime(path)
        let source = FileToken(path: path)
        #expect(try await source.token(refresh: false) == "token-aaaa")
        let replacement = try fixtures.write("tokens/projected.new", "token-bbbb")
        try setModificationTime(replacement)
        #expect(rename(replacement, path) == 0)
        #expect(try await source.token(refresh: false) == "token-bbbb")
    }

    @Test func unchangedFileIsNotReadAgainUnlessRefreshing() async throws {
        let fixtures = try ConfigFixtures()
        let path = try fixtures.write("tokens/stable", "token-1111")
        try setModificationTime(path)
        let source = FileToken(path: path)
        #expect(try await source.token(refresh: false) == "token-1111")
        // Same inode, same size, same modification time: only a read could see the new content.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.write(contentsOf: Data("token-2222".utf8))
        try handle.close()
        try setModificationTime(path)
        #expect(try await source.token(refresh: false) == "token-1111")
        #expect(try await source.token(refresh: true) == "token-2222")
        #expect(try await source.token(refresh: false) == "token-2222")
    }

    @Test func emptyFileIsAnErrorNamingIt() async throws {
        let fixtures = try ConfigFixtures()
        let path = try fixtures.write("tokens/empty", " \n\t\n")
        let error = await #expect(throws: ConfigurationError.self) {
            try await FileToken(path: path).token(refresh: false)
        }
        #expect(error?.code == .emptyToken)
        #expect(error?.message == "token file \(path) is empty")
    }

    @Test func missingFileIsAnErrorNamingIt() async throws {
        let fixtures = try ConfigFixtures()
        let path = try fixtures.write("tokens/vanishing", "token")
        let source = FileToken(path: path)
        _ = try await source.token(refresh: false)
        try FileManager.default.removeItem(atPath: path)
        let error = await #expect(throws: ConfigurationError.self) { try await source.token(refresh: false) }
        #expect(error?.code == .fileNotFound)
        #expect(error?.message.contains(path) == true)
    }
}
