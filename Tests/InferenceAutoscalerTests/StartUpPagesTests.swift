import Foundation
import Testing

@testable import InferenceAutoscaler

@Suite struct StartUpPagesTests {
    @Test func onlyReadOnlyMappingsOfFilesAreReleased() {
        let maps = """
            5640f9a00000-5640f9b3e000 r--p 00000000 103:02 4194 /opt/bin/inference-autoscaler
            5640f9b3e000-5640fafea000 r-xp 0013e000 103:02 4194 /opt/bin/inference-autoscaler
            5640fb0b9000-5640fd522000 rw-p 015b9000 103:02 4194 /opt/bin/inference-autoscaler
            5640fe000000-5640fe100000 rw-p 00000000 00:00 0 [heap]
            7f8bbb2e3000-7f8bbb30e000 r--p 00000000 103:02 9001 /usr/lib/with a space.so
            7ffd1c000000-7ffd1c021000 rw-p 00000000 00:00 0 [stack]
            7ffd1c1fe000-7ffd1c200000 r-xp 00000000 00:00 0 [vdso]
            """
        let mappings = StartUpPages.readOnlyFileMappings(maps)
        #expect(mappings.map(\.start) == [0x5640_f9a0_0000, 0x5640_f9b3_e000, 0x7f8b_bb2e_3000])
        #expect(mappings.map(\.length) == [0x13e000, 0x14ac000, 0x2b000])
        #expect(mappings.last?.path == "/usr/lib/with a space.so")
        #expect(StartUpPages.readOnlyFileMappings("garbage\n\n").isEmpty)
    }

    #if os(Linux)
    /// The test binary's own code: once released, its resident file pages drop, and the process goes on running
    /// (they fault back in).
    @Test func releasingTheMappingsLowersTheResidentFilePages() throws {
        func residentFileKiB() -> Int {
            let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("RssFile:") } ?? ""
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        let before = residentFileKiB()
        let advised = StartUpPages.adviseFileMappings()
        let after = residentFileKiB()
        #expect(advised > 1 << 20)
        #expect(after < before, "RssFile \(before) KiB before, \(after) KiB after")
    }
    #endif
}
