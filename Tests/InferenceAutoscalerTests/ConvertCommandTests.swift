import Foundation
import Testing

/// `convert` as a user runs it: policies on standard output that `validate` accepts, problems on standard error.
@Suite struct ConvertCommandTests {
    static let migrationFixtures = CommandLineTests.packageRoot.appendingPathComponent("Tests/MigrationTests/Fixtures")

    @Test func theBlogPostsObjectsConvertToPoliciesThatValidate() throws {
        let files = ["queue-depth.yaml", "kv-pressure.yaml", "business-hours.yaml", "hpa-queue.yaml"].map {
            Self.migrationFixtures.appendingPathComponent($0).path
        }
        let converted = try CommandLineTests.run(["convert"] + files)
        #expect(converted.status == 0, "\(converted.stderr)")
        #expect(converted.stdout.components(separatedBy: "\n---\n").count == 4)
        #expect(converted.stdout.contains("# not carried over:\n#   spec.triggers[0].metadata.metricName"))

        let output = FileManager.default.temporaryDirectory.appendingPathComponent("converted-\(UUID()).yaml")
        defer { try? FileManager.default.removeItem(at: output) }
        try Data(converted.stdout.utf8).write(to: output)
        let validated = try CommandLineTests.run(["validate", output.path])
        #expect(validated.status == 0, "\(validated.stdout)")
        #expect(validated.stdout.components(separatedBy: ": valid").count - 1 == 4)
    }

    @Test func aConversionThatCannotBeValidExitsOneWithTheViolation() throws {
        // A cron floor above maxReplicaCount: KEDA clamps it silently; a policy says it is wrong.
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("cron-\(UUID()).yaml")
        defer { try? FileManager.default.removeItem(at: input) }
        try Data(
            """
            apiVersion: keda.sh/v1alpha1
            kind: ScaledObject
            metadata: {name: c, namespace: n}
            spec:
              scaleTargetRef: {name: d}
              minReplicaCount: 1
              maxReplicaCount: 2
              triggers:
              - type: cron
                metadata: {timezone: Europe/Amsterdam, start: "0 8 * * 1-5", end: "0 18 * * 1-5", desiredReplicas: "5"}
            """.utf8
        ).write(to: input)
        let run = try CommandLineTests.run(["convert", input.path])
        #expect(run.status == 1)
        #expect(run.stderr.contains("ScaledObject n/c: spec.schedules[0].minReplicas"), "\(run.stderr)")
        #expect(run.stdout.contains("kind: InferenceAutoscalePolicy"))
    }

    @Test func aFileWithNothingToConvertExitsTwo() throws {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("cm-\(UUID()).yaml")
        defer { try? FileManager.default.removeItem(at: input) }
        try Data("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n".utf8).write(to: input)
        let run = try CommandLineTests.run(["convert", input.path])
        #expect(run.status == 2)
        #expect(run.stderr.contains("skipped ConfigMap default/x"))
    }
}
