import Foundation
import KubernetesClient
import Testing

/// A private copy of `Fixtures/config` in a temporary directory, removed when released.
///
/// Tests write tokens and counters next to the fixtures, and resources may lose the executable bit when SwiftPM
/// copies them, so each test works on its own copy with the plugin scripts made executable.
final class ConfigFixtures {
    let root: URL

    init() throws {
        let files = FileManager.default
        let source = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/config")
        root = files.temporaryDirectory.appendingPathComponent("kubeconfig-tests-\(UUID().uuidString)")
        try files.copyItem(at: source, to: root)
        let plugins = root.appendingPathComponent("plugins")
        for script in try files.contentsOfDirectory(atPath: plugins.path) {
            try files.setAttributes(
                [.posixPermissions: 0o755], ofItemAtPath: plugins.appendingPathComponent(script).path)
        }
    }

    deinit {
        try? FileManager.default.removeItem(at: root)
    }

    /// The absolute path of a file in the copy.
    func path(_ relative: String) -> String {
        root.appendingPathComponent(relative).path
    }

    /// Writes `text` to a file in the copy (creating directories) and returns its path.
    @discardableResult
    func write(_ relative: String, _ text: String) throws -> String {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    func contents(_ relative: String) throws -> String {
        try String(contentsOfFile: path(relative), encoding: .utf8)
    }
}

/// The environment an exec plugin gets in tests: enough for `/bin/sh` scripts, nothing from the developer's shell.
let execPluginTestEnvironment = ["PATH": "/usr/local/bin:/usr/bin:/bin"]

extension Credentials {
    /// The token, or nil for `.none`.
    func currentToken(refresh: Bool = false) async throws -> String? {
        guard case .token(let source) = self else { return nil }
        return try await source.token(refresh: refresh)
    }
}
