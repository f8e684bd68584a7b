import Foundation

/// The terminal view: on a terminal a block redrawn in place every refresh; otherwise (CI, a pipe) one line per
/// refresh.
struct LiveView {
    let redraw: Bool
    let duration: Double?
    let phases: [LoadPattern.Phase]
    private var drawnLines = 0

    init(redraw: Bool, duration: Double?, phases: [LoadPattern.Phase]) {
        self.redraw = redraw
        self.duration = duration
        self.phases = phases
    }

    mutating func show(_ sample: DemoSample) {
        if redraw {
            // A line wider than the terminal wraps and the cursor-up count would be off: cut them to fit.
            let width = Self.terminalColumns() - 1
            let lines = block(sample).map { $0.count > width ? String($0.prefix(width - 1)) + "…" : $0 }
            var text = drawnLines > 0 ? "\u{1B}[\(drawnLines)F\u{1B}[J" : ""
            text += lines.joined(separator: "\n") + "\n"
            drawnLines = lines.count
            write(text)
        } else {
            write(line(sample) + "\n")
        }
    }

    /// Text printed between refreshes (phase changes, notices) stays above the block.
    mutating func note(_ text: String) {
        if redraw, drawnLines > 0 {
            write("\u{1B}[\(drawnLines)F\u{1B}[J")
            drawnLines = 0
        }
        write(text + "\n")
    }

    func block(_ sample: DemoSample) -> [String] {
        [
            progress(sample),
            "  load \(Self.pad(String(format: "%.0f", sample.load), 4)) req/s   waiting \(Self.pad(String(sample.waiting), 4))"
                + "   TTFT p95 \(Self.latency(sample.ttftP95))   replicas \(sample.ready) ready / \(sample.desired) desired"
                + " (\(sample.pods) pods hold GPUs)",
            "  policy  Ready=\(sample.policyReady ?? "-")   limitedBy \(sample.limitedBy ?? "-")",
            "  planner \(sample.planner ?? "-")",
            "  last event  \(sample.lastEvent ?? "-")",
        ]
    }

    func line(_ sample: DemoSample) -> String {
        "\(Self.clock(sample.time)) \(sample.phase.padding(toLength: 11, withPad: " ", startingAt: 0))"
            + " load \(Self.pad(String(format: "%.0f", sample.load), 4))/s waiting \(Self.pad(String(sample.waiting), 4))"
            + " ttft95 \(Self.latency(sample.ttftP95)) ready \(sample.ready)/\(sample.desired) pods \(sample.pods)"
            + " limitedBy \(sample.limitedBy ?? "-")"
    }

    /// `[#######.......] 1:05 / 5:00  phase 2/5 ramp-up`.
    func progress(_ sample: DemoSample) -> String {
        let index = phases.firstIndex { $0.name == sample.phase }.map { $0 + 1 }
        let phase = index.map { "phase \($0)/\(phases.count) \(sample.phase)" } ?? sample.phase
        guard let duration else { return "\(Self.clock(sample.time))  \(phase)  (Ctrl-C ends the demo)" }
        let width = 30
        let filled = min(width, Int((sample.time / max(duration, 1) * Double(width)).rounded()))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        return "[\(bar)] \(Self.clock(sample.time)) / \(Self.clock(duration))  \(phase)"
    }

    static func terminalColumns() -> Int {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 20 else { return 100 }
        return Int(size.ws_col)
    }

    private func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded(.down))
        return String(format: "%d:%02d", total / 60, total % 60)
    }

    static func seconds(_ value: Double) -> String {
        value < 1 ? String(format: "%.0f ms", value * 1000) : String(format: "%.2f s", value)
    }

    static func latency(_ value: Double?) -> String {
        pad(value.map(seconds) ?? "-", 7)
    }

    /// Right-aligned in `width` columns.
    static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
