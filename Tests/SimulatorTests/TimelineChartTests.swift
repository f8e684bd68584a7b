import Foundation
import Testing

@testable import Simulator

#if canImport(FoundationXML)
import FoundationXML
#endif

@Suite struct TimelineChartTests {
    static func points(_ count: Int, step: Double = 10) -> [TimelinePoint] {
        (0..<count).map { index in
            TimelinePoint(
                time: Double(index) * step, load: Double(index % 50), waiting: 0, desired: 2 + index % 7, ready: 2,
                pods: 2, ttftP95: index % 11 == 0 ? nil : 0.05 * Double(index % 30 + 1), reason: "QueueDepth")
        }
    }

    static func wellFormed(_ svg: String) -> Bool {
        XMLParser(data: Data(svg.utf8)).parse()
    }

    @Test func aChartIsWellFormedSVGWithTheSLOLine() {
        let svg = TimelineChart.svg(Self.points(400), title: "conv × default", sloTTFT: 2)
        #expect(Self.wellFormed(svg))
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.contains("SLO 2s"))
        #expect(svg.contains("desired replicas") && svg.contains("ready replicas"))
        #expect(TimelineChart.svg(Self.points(10), title: "x", sloTTFT: 0.5).contains("SLO 500ms"))
    }

    @Test func titlesAreEscapedAndNaNNeverReachesTheFile() {
        var points = Self.points(50)
        points[3].ttftP95 = .nan
        points[4].load = .infinity
        points[5].ttftP95 = .infinity
        let svg = TimelineChart.svg(points, title: "a <b> & \"c\"", sloTTFT: 2)
        #expect(Self.wellFormed(svg))
        #expect(svg.contains("a &lt;b&gt; &amp; &quot;c&quot;"))
        #expect(!svg.lowercased().contains("nan") && !svg.lowercased().contains("inf"))
    }

    @Test func longSimulationsAreDownsampledKeepingSpikes() {
        var points = Self.points(100_000)
        points[54_321].desired = 99
        let svg = TimelineChart.svg(points, title: "14 days", sloTTFT: 2)
        #expect(Self.wellFormed(svg))
        #expect(svg.utf8.count < 500_000, "\(svg.utf8.count) bytes")
        #expect(TimelineChart.downsample(points).count <= TimelineChart.maxColumns)
        #expect(TimelineChart.downsample(points).map(\.desired).max() == 99)
        #expect(svg.contains(">d1 00:00<") || svg.contains(">d2 00:00<"))
    }

    @Test func anEmptyTimelineIsStillAValidChart() {
        let svg = TimelineChart.svg([], title: "nothing", sloTTFT: 2)
        #expect(Self.wellFormed(svg))
        #expect(svg.contains("no data"))
    }

    @Test func timelineCSVQuotesAndLeavesMissingTTFTEmpty() {
        var points = Self.points(3)
        points[0].ttftP95 = nil
        points[1].reason = "limited, by \"rate\""
        points[2].load = 0.000_01
        let lines = TimelineCSV.csv(points).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "time_s,load_rps,waiting,desired,ready,pods,ttft_p95_s,reason")
        #expect(lines.count == 5 && lines[4].isEmpty)
        #expect(lines[1] == "0,0,0,2,2,2,,QueueDepth")
        #expect(lines[2].hasSuffix(",\"limited, by \"\"rate\"\"\""))
        #expect(lines[3].hasPrefix("20,0,0,4,2,2,"))
        #expect(!lines[3].contains("e-"))
    }
}
