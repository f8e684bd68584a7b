import AutoscalerCore
import Foundation
import PrometheusTestSupport
import Replay
import Signals
import Simulator
import Testing

/// A workload's history backfilled into a real Prometheus, read back with the controller's queries as a trace.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ReplayFromPrometheusTests {
    /// An hour of 2 pods at 1 req/s each, then an hour of 4 pods at 1.5 req/s each with 3 requests queued on each,
    /// ending a few minutes ago on a whole minute.
    static func history() -> TrafficHistory {
        let end = (Date().timeIntervalSince1970 / 60).rounded(.down) * 60 - 120
        return TrafficHistory(
            phases: [
                .init(seconds: 3600, pods: 2, requestsPerPod: 1),
                .init(seconds: 3600, pods: 4, requestsPerPod: 1.5, waitingPerPod: 3),
            ], start: end - 7200)
    }

    @Test func theRecordedTraceReproducesTheKnownPattern() async throws {
        let history = Self.history()
        let prometheus = try await PrometheusServer.start(backfilledWith: history.openMetrics())
        defer { prometheus.stop() }
        let client = PrometheusQueryClient(configuration: .init(address: prometheus.url))
        let scope = PodScope(namespace: "inference", pods: .deployment("vllm"))
        let recording = try await PrometheusRecording.read(
            client: client, engine: .vllm, scope: scope, from: Date(timeIntervalSince1970: history.start),
            to: Date(timeIntervalSince1970: history.end - history.scrapeInterval), step: 60)
        #expect(recording.count == 119)
        #expect(recording.gaps == 0)
        // The history's pods were scraped every 15 s.
        #expect(recording.resolution == 15)
        guard case .rates(let segments) = recording.trace() else {
            Issue.record("not a rate trace")
            return
        }
        // Away from the change at one hour (a rate window there straddles both phases).
        for segment in segments where abs(segment.start - 3600) > 180 && segment.start > 60 {
            let expected = segment.start < 3600 ? 2.0 : 6.0
            #expect(abs(segment.requestsPerSecond - expected) < 0.02 * expected, "at \(segment.start) s")
            #expect(abs(segment.meanInputTokens - 500) < 1)
            #expect(abs(segment.meanOutputTokens - 100) < 1)
        }
        let live = recording.liveReplicas
        #expect(live.filter { $0.time < 3400 }.allSatisfy { $0.replicas == 2 })
        #expect(live.filter { $0.time > 3800 }.allSatisfy { $0.replicas == 4 })
        #expect(abs(recording.liveReplicaHours - 6) < 0.1)

        // The second hour queued: one pod served 1.5 req/s flat out, and the fitted profile does too.
        let fit = ProfileFit.fit(PodProfile.llama3_8b_h100, to: recording)
        let fitted = OracleScaler.saturatedThroughput(fit.profile, input: 500, output: 100)
        #expect(abs(fitted - 1.5) < 0.01, "\(fit.note)")

        // 99 % of first tokens within 1 s: within a 2 s SLO, not within 0.5 s.
        let within2 = await PrometheusRecording.attainment(
            client: client, engine: .vllm, scope: scope, end: Date(timeIntervalSince1970: history.end), window: 7200,
            slo: 2)
        #expect(abs((within2 ?? 0) - 0.99) < 0.001)
    }

    @Test func aWorkloadAtZeroPodsIsZeroAndARangeBeforeItsHistoryIsCut() async throws {
        let end = (Date().timeIntervalSince1970 / 60).rounded(.down) * 60 - 120
        var history = TrafficHistory(
            phases: [
                .init(seconds: 1200, pods: 2, requestsPerPod: 1), .init(seconds: 1200, pods: 0, requestsPerPod: 0),
                .init(seconds: 1200, pods: 2, requestsPerPod: 1),
            ], start: end - 3600)
        history.withUp = true
        let prometheus = try await PrometheusServer.start(backfilledWith: history.openMetrics())
        defer { prometheus.stop() }
        // Asked for half an hour before the history begins: those steps are not replayed as anything.
        let recording = try await PrometheusRecording.read(
            client: PrometheusQueryClient(configuration: .init(address: prometheus.url)), engine: .vllm,
            scope: PodScope(namespace: "inference", pods: .deployment("vllm")),
            from: Date(timeIntervalSince1970: history.start - 1800), to: Date(timeIntervalSince1970: end - 15),
            step: 60)
        #expect(abs(recording.start - (history.start + 60)) <= 60)
        let offset = recording.start - recording.step - history.start
        // Scaled to zero while Prometheus kept scraping: no traffic and no replicas, not the last values held.
        // (Its last samples are seen for Prometheus' five-minute lookback.)
        for (index, rate) in recording.requestRate.enumerated() {
            let time = offset + Double(index) * recording.step
            guard time > 1200 + 420, time < 2400 - 60 else { continue }
            #expect(rate == 0, "at \(time) s")
            #expect(recording.pods[index] == 0, "at \(time) s")
        }
        #expect(abs(recording.liveReplicaHours - 2 * 2400 / 3600) < 0.2)
    }

    @Test func aStepFinerThanTheDataIsRaisedToIt() async throws {
        var history = TrafficHistory(phases: [.init(seconds: 1800, pods: 2, requestsPerPod: 1)], start: 0)
        history.start = (Date().timeIntervalSince1970 / 60).rounded(.down) * 60 - 1920
        history.scrapeInterval = 60
        let prometheus = try await PrometheusServer.start(backfilledWith: history.openMetrics())
        defer { prometheus.stop() }
        let recording = try await PrometheusRecording.read(
            client: PrometheusQueryClient(configuration: .init(address: prometheus.url)), engine: .vllm,
            scope: PodScope(namespace: "inference", pods: .deployment("vllm")),
            from: Date(timeIntervalSince1970: history.start), to: Date(timeIntervalSince1970: history.end - 60),
            step: 15)
        #expect(recording.resolution == 60)
        #expect(recording.step == 60)
        // Rates over four samples: every step has one, and it is the pattern's 2 req/s.
        #expect(recording.gaps == 0)
        for rate in recording.requestRate.dropFirst(4).compactMap({ $0 }) { #expect(abs(rate - 2) < 0.05) }
    }

    @Test func aWorkloadWithoutItsCountersIsAnErrorNotAnEmptyTrace() async throws {
        let history = Self.history()
        let prometheus = try await PrometheusServer.start(backfilledWith: history.openMetrics())
        defer { prometheus.stop() }
        let client = PrometheusQueryClient(configuration: .init(address: prometheus.url))
        do {
            _ = try await PrometheusRecording.read(
                client: client, engine: .vllm, scope: PodScope(namespace: "inference", pods: .deployment("other")),
                from: Date(timeIntervalSince1970: history.start), to: Date(timeIntervalSince1970: history.end), step: 60
            )
            Issue.record("read a workload that exports nothing")
        } catch {
            #expect(error.description.contains("no request counter of engine vllm in namespace inference"))
        }
        // A workload that never queued shows no capacity: the profile stays as it is, and says why.
        let calm = TrafficHistory(phases: [.init(seconds: 1800, pods: 2, requestsPerPod: 1)], start: history.start)
        let quiet = try await PrometheusServer.start(backfilledWith: calm.openMetrics())
        defer { quiet.stop() }
        let recording = try await PrometheusRecording.read(
            client: PrometheusQueryClient(configuration: .init(address: quiet.url)), engine: .vllm,
            scope: PodScope(namespace: "inference", pods: .deployment("vllm")),
            from: Date(timeIntervalSince1970: calm.start), to: Date(timeIntervalSince1970: calm.end - 15), step: 60)
        let fit = ProfileFit.fit(PodProfile.llama3_8b_h100, to: recording)
        #expect(fit.profile == PodProfile.llama3_8b_h100)
        #expect(fit.note.contains("never had a queue"))
    }
}
