import Foundation
import KubernetesModel
import Testing

@testable import AutoscalerCore

@Suite struct APICodingTests {
    /// A policy as the API server returns it: server-set metadata, fields this binary does not know, status.
    static let served = """
        {
          "apiVersion": "autoscaling.inference.dev/v1alpha1",
          "kind": "InferenceAutoscalePolicy",
          "metadata": {
            "name": "llama3-8b", "namespace": "inference", "uid": "4b6c1f2e-0000-4000-8000-000000000001",
            "resourceVersion": "81723", "generation": 3, "creationTimestamp": "2026-11-20T10:00:00Z",
            "labels": {"team": "ml"}, "annotations": {"note": "x"},
            "finalizers": ["example.com/keep"],
            "managedFields": [{"manager": "kubectl", "operation": "Apply"}]
          },
          "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm-llama3"},
            "maxReplicas": 8,
            "futureField": {"nested": true},
            "signals": [{"type": "TimeToFirstToken", "target": "500ms", "unknown": 1},
                        {"type": "KVCacheUtilization", "target": 0.85}],
            "disruptionBudget": {"minAvailable": 1}
          },
          "status": {
            "observedGeneration": 2, "desiredReplicas": 4, "limitedBy": "QueueDepth",
            "conditions": [{"type": "Ready", "status": "True", "reason": "Reconciled", "message": "ok",
                            "lastTransitionTime": "2026-11-20T10:01:00Z", "observedGeneration": 2}],
            "history": {"recommendations": [{"time": "2026-11-20T10:00:45Z", "replicas": 4}],
                        "scaleEvents": [{"time": "2026-11-20T10:00:45Z", "change": 2}],
                        "consecutiveFailures": 0}
          }
        }
        """

    @Test func decodesWhatTheAPIServes() throws {
        let policy = try JSONDecoder().decode(InferenceAutoscalePolicy.self, from: Data(Self.served.utf8))
        #expect(policy.metadata.name == "llama3-8b")
        #expect(policy.metadata.generation == 3)
        #expect(policy.metadata.labels == ["team": "ml"])
        #expect(policy.spec?.signals?[0].target == .string("500ms"))
        #expect(policy.spec?.signals?[1].target == .number(0.85))
        #expect(policy.spec?.disruptionBudget?.minAvailable == .int(1))
        #expect(policy.status?.conditions?.first?.status == .true)
        #expect(policy.status?.history?.recommendations.first?.replicas == 4)
        #expect(policy.status?.history?.scaleEvents.first?.time == Timestamp.parse("2026-11-20T10:00:45Z"))
        #expect(PolicyValidator.violations(of: policy).isEmpty)
    }

    @Test func metadataSurvivesARoundTrip() throws {
        let policy = try JSONDecoder().decode(InferenceAutoscalePolicy.self, from: Data(Self.served.utf8))
        let encoded = try JSONEncoder().encode(policy)
        let object = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        let metadata = try #require(object["metadata"] as? [String: Any])
        #expect(metadata["finalizers"] as? [String] == ["example.com/keep"])
        #expect((metadata["managedFields"] as? [[String: Any]])?.first?["manager"] as? String == "kubectl")
        #expect(metadata["uid"] as? String == "4b6c1f2e-0000-4000-8000-000000000001")
        let again = try JSONDecoder().decode(InferenceAutoscalePolicy.self, from: encoded)
        #expect(again == policy)
    }

    @Test func wholeNumbersEncodeAsIntegers() throws {
        let data = try JSONValue.object(["replicas": .number(3), "ratio": .number(0.5)]).jsonData()
        #expect(String(decoding: data, as: UTF8.self) == #"{"ratio":0.5,"replicas":3}"#)
    }
}

@Suite struct JSONValuePathTests {
    let deployment = JSONValue.object([
        "metadata": .object(["name": .string("web"), "resourceVersion": .string("7")]),
        "spec": .object(["replicas": .number(2)]),
    ])

    @Test func readsByDottedAndListedPaths() {
        #expect(deployment.value(at: "metadata.name")?.stringValue == "web")
        #expect(deployment.value(at: ["spec", "replicas"])?.intValue == 2)
        #expect(deployment.value(at: "spec.replicas.more") == nil)
        #expect(deployment.value(at: "status") == nil)
        #expect(JSONValue.number(2.5).intValue == nil)
        #expect(JSONValue.array([.null]).arrayValue == [.null])
        #expect(JSONValue.string("x").objectMembers == nil)
    }

    @Test func setsCreatingObjectsOnTheWay() {
        var copy = deployment
        copy.setValue(.number(3), at: "spec.replicas")
        copy.setValue(.string("true"), at: ["metadata", "annotations", "paused"])
        #expect(copy.value(at: "spec.replicas") == .number(3))
        #expect(copy.value(at: "metadata.annotations.paused")?.stringValue == "true")
        #expect(copy.value(at: "metadata.name")?.stringValue == "web")
        // A member on the way that is not an object is replaced by one.
        #expect(
            copy.setting(.bool(true), at: "spec.replicas.x").value(at: "spec.replicas") == .object(["x": .bool(true)]))
    }

    @Test func nilRemovesAndTheOriginalStays() {
        let removed = deployment.setting(nil, at: "metadata.resourceVersion")
        #expect(removed.value(at: "metadata.resourceVersion") == nil)
        #expect(removed.value(at: "metadata.name")?.stringValue == "web")
        #expect(deployment.value(at: "metadata.resourceVersion")?.stringValue == "7")
        #expect(JSONValue.object([:]).setting(nil, at: ["a", "b"]) == .object(["a": .object([:])]))
    }
}

@Suite struct DurationTests {
    @Test(arguments: [
        ("0", 0.0), ("0s", 0), ("500ms", 0.5), ("15s", 15), ("5m", 300), ("1h30m", 5400), ("1.5h", 5400),
        ("2h45m30s", 9930), ("100us", 0.0001), ("250µs", 0.00025), ("10ns", 1e-8), ("-5s", -5), ("+3m", 180),
        (".5s", 0.5),
    ])
    func parses(_ text: String, _ seconds: Double) throws {
        #expect(abs(try PolicyDuration.parse(text) - seconds) < 1e-12)
    }

    @Test(arguments: [
        ("", PolicyDuration.ParseError.empty), ("15", .missingUnit("15")), ("5 m", .unknownUnit(" m")),
        ("5d", .unknownUnit("d")), ("1.2.3s", .malformed("1.2.3s")), ("m", .malformed("m")), ("-", .malformed("-")),
        ("1h30", .missingUnit("1h30")),
    ])
    func rejects(_ text: String, _ error: PolicyDuration.ParseError) {
        #expect(throws: error) { try PolicyDuration.parse(text) }
    }

    @Test(arguments: [
        (0.0, "0s"), (0.5, "500ms"), (15, "15s"), (300, "5m"), (5400, "1h30m"), (3600, "1h"), (90.5, "1m30.5s"),
    ])
    func formats(_ seconds: Double, _ text: String) {
        #expect(PolicyDuration.format(seconds) == text)
    }
}

@Suite struct TimestampTests {
    @Test func formatsWholeSecondsWithoutAFraction() {
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_800_000_000)) == "2027-01-15T08:00:00Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_800_000_000.125)) == "2027-01-15T08:00:00.125Z")
    }

    @Test(arguments: [
        ("2027-01-15T08:00:00Z", 1_800_000_000.0), ("2027-01-15T08:00:00.5Z", 1_800_000_000.5),
        ("2027-01-15T09:00:00+01:00", 1_800_000_000), ("2027-01-15T03:30:00-04:30", 1_800_000_000),
    ])
    func parses(_ text: String, _ epoch: Double) {
        #expect(Timestamp.parse(text)?.timeIntervalSince1970 == epoch)
    }

    /// The arithmetic against Foundation's Gregorian calendar, over leap days, century years and instants before 1970
    /// (from 1600: before 1582 Foundation's calendar is Julian).
    @Test func agreesWithTheGregorianCalendar() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(secondsFromGMT: 0))
        var generator = SystemRandomNumberGenerator()
        let edges: [Int64] = [
            0, -1, 86_399, 86_400, 951_782_400, 951_868_800, 4_107_542_400, -2_203_977_600, -2_203_891_200,
            -11_676_096_000, 253_402_300_799,
        ]
        let randoms = (0..<2_000).map { _ in Int64.random(in: -11_676_096_000...253_402_300_799, using: &generator) }
        for seconds in edges + randoms {
            let date = Date(timeIntervalSince1970: Double(seconds))
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
            let expected =
                "\(String(format: "%04d-%02d-%02dT%02d:%02d:%02d", parts.year!, parts.month!, parts.day!, parts.hour!, parts.minute!, parts.second!))Z"
            #expect(Timestamp.format(date) == expected, "\(seconds)")
            #expect(Timestamp.parse(expected)?.timeIntervalSince1970 == Double(seconds), "\(expected)")
        }
    }

    @Test func formatsMicroseconds() {
        #expect(
            Timestamp.format(millis: 1_800_000_000_123, fractionDigits: 6, micros: 45)
                == "2027-01-15T08:00:00.123045Z")
        #expect(Timestamp.format(millis: -1, fractionDigits: 3) == "1969-12-31T23:59:59.999Z")
    }

    @Test(arguments: [
        "", "2027-01-15", "2027-01-15T08:00:00", "2027-13-01T00:00:00Z", "2027-02-30T00:00:00Z",
        "2027-01-15T08:00:00Zjunk", "2027-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
    ])
    func rejects(_ text: String) {
        #expect(Timestamp.parse(text) == nil)
    }
}
