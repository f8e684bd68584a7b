import Foundation

/// A plain SVG of a simulation: load and replicas on top, TTFT p95 against the SLO below, one time axis.
public enum TimelineChart {
    static let width = 1000.0
    static let left = 60.0
    static let right = 60.0
    static let plotWidth = width - left - right
    static let maxColumns = 2000

    /// - Parameter reference: replicas something else ran over the same time (a replay's live workload), drawn
    ///   dashed for comparison.
    public static func svg(
        _ points: [TimelinePoint], title: String, sloTTFT: Double, gpusPerReplica: Int = 1,
        reference: [(time: Double, replicas: Double)] = []
    ) -> String {
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="560" viewBox="0 0 \(Int(width)) 560" \
            font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(Int(left))" y="22" font-size="15">\(escape(title))</text>

            """
        let points = downsample(points.filter { $0.time.isFinite })
        guard let first = points.first, let last = points.last else {
            return out + "<text x=\"\(Int(width / 2))\" y=\"280\" text-anchor=\"middle\">no data</text>\n</svg>\n"
        }
        let start = first.time
        let end = max(last.time, start + 1)
        func x(_ time: Double) -> Double { left + (time - start) / (end - start) * plotWidth }

        // Top panel: replicas (left axis), load (right axis).
        let top = (y: 40.0, height: 280.0)
        let replicaMax = max(
            Double(max(1, points.map { max($0.desired, $0.ready) }.max() ?? 1)), reference.map(\.replicas).max() ?? 0)
        let replicaScale = niceCeiling(replicaMax)
        let loadMax = niceCeiling(max(1e-9, points.map { finite($0.load) }.max() ?? 1))
        func yReplicas(_ value: Double) -> Double { top.y + top.height - value / replicaScale * top.height }
        func yLoad(_ value: Double) -> Double { top.y + top.height - value / loadMax * top.height }
        out += frame(top.y, top.height)
        for tick in 0...4 {
            let fraction = Double(tick) / 4
            let y = top.y + top.height * (1 - fraction)
            out += gridLine(y)
            out += label(left - 6, y + 4, number(replicaScale * fraction), anchor: "end")
            out += label(width - right + 6, y + 4, number(loadMax * fraction), anchor: "start")
        }
        out += label(14, top.y + top.height / 2, "replicas", anchor: "middle", rotate: true)
        out += label(width - 14, top.y + top.height / 2, "load (req/s)", anchor: "middle", rotate: true)
        out += path(points.map { (x($0.time), yLoad(finite($0.load))) }, color: "#9ecae1", width: 1)
        out += stepPath(points.map { (x($0.time), yReplicas(Double($0.desired))) }, color: "#d62728", width: 1.5)
        out += stepPath(points.map { (x($0.time), yReplicas(Double($0.ready))) }, color: "#2ca02c", width: 1.5)
        let shown = reference.filter { $0.time >= start && $0.time <= end }
        if !shown.isEmpty {
            out += stepPath(
                shown.map { (x($0.time), yReplicas($0.replicas)) }, color: "#333333", width: 1.2, dash: "5 3")
        }

        // Bottom panel: TTFT p95 on a log scale from 10 ms, with the SLO.
        let bottom = (y: 350.0, height: 160.0)
        let observed = points.compactMap(\.ttftP95).filter { $0.isFinite && $0 > 0 }.max() ?? sloTTFT
        let low = 0.01
        let high = max(10 * sloTTFT, observed, low * 10)
        func yTTFT(_ value: Double) -> Double {
            let clamped = min(max(value, low), high)
            return bottom.y + bottom.height - log10(clamped / low) / log10(high / low) * bottom.height
        }
        out += frame(bottom.y, bottom.height)
        var decade = low
        while decade <= high * 1.0001 {
            out += gridLine(yTTFT(decade))
            out += label(left - 6, yTTFT(decade) + 4, duration(decade), anchor: "end")
            decade *= 10
        }
        out += label(14, bottom.y + bottom.height / 2, "TTFT p95", anchor: "middle", rotate: true)
        var segment: [(Double, Double)] = []
        for point in points {
            if let ttft = point.ttftP95, ttft.isFinite {
                segment.append((x(point.time), yTTFT(ttft)))
            } else {
                out += path(segment, color: "#9467bd", width: 1.2)
                segment = []
            }
        }
        out += path(segment, color: "#9467bd", width: 1.2)
        let sloY = format(yTTFT(sloTTFT))
        out +=
            "<line x1=\"\(Int(left))\" y1=\"\(sloY)\" x2=\"\(Int(width - right))\" y2=\"\(sloY)\" "
            + "stroke=\"#d62728\" stroke-dasharray=\"6 4\"/>\n"
        out += label(width - right - 4, yTTFT(sloTTFT) - 4, "SLO \(duration(sloTTFT))", anchor: "end")

        // Time axis and legend.
        for tick in timeTicks(start: start, end: end) {
            out +=
                "<line x1=\"\(format(x(tick)))\" y1=\"\(Int(bottom.y + bottom.height))\" x2=\"\(format(x(tick)))\" "
                + "y2=\"\(Int(bottom.y + bottom.height + 4))\" stroke=\"#444\"/>\n"
            out += label(x(tick), bottom.y + bottom.height + 18, timeLabel(tick, span: end - start), anchor: "middle")
        }
        var legend: [(String, String)] = [
            ("load", "#9ecae1"), ("desired replicas", "#d62728"), ("ready replicas", "#2ca02c"),
            ("TTFT p95", "#9467bd"),
        ]
        if !reference.isEmpty { legend.append(("live replicas", "#333333")) }
        for (index, (name, color)) in legend.enumerated() {
            let lx = left + Double(index) * 170
            out += "<rect x=\"\(format(lx))\" y=\"540\" width=\"14\" height=\"4\" fill=\"\(color)\"/>\n"
            out += label(lx + 20, 546, name, anchor: "start")
        }
        if gpusPerReplica > 1 { out += label(width - right, 546, "\(gpusPerReplica) GPUs per replica", anchor: "end") }
        return out + "</svg>\n"
    }

    /// At most `maxColumns` points: the most of replicas and TTFT and the mean load of each bucket, so spikes stay.
    static func downsample(_ points: [TimelinePoint]) -> [TimelinePoint] {
        guard points.count > maxColumns else { return points }
        let size = (points.count + maxColumns - 1) / maxColumns
        return stride(from: 0, to: points.count, by: size).map { start in
            let bucket = points[start..<min(points.count, start + size)]
            var merged = bucket.last!
            merged.time = bucket.first!.time
            merged.load = bucket.reduce(0) { $0 + finite($1.load) } / Double(bucket.count)
            merged.desired = bucket.map(\.desired).max()!
            merged.ready = bucket.map(\.ready).max()!
            merged.ttftP95 = bucket.compactMap(\.ttftP95).filter(\.isFinite).max()
            return merged
        }
    }

    static func finite(_ value: Double) -> Double { value.isFinite ? value : 0 }

    static func niceCeiling(_ value: Double) -> Double {
        let magnitude = pow(10, (log10(value)).rounded(.down))
        for step in [1.0, 2, 2.5, 5, 10] where step * magnitude >= value { return step * magnitude }
        return 10 * magnitude
    }

    static func timeTicks(start: Double, end: Double) -> [Double] {
        let span = end - start
        let steps: [Double] = [
            10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172_800, 345_600,
        ]
        let step = steps.first { span / $0 <= 10 } ?? (span / 8)
        var ticks: [Double] = []
        var tick = (start / step).rounded(.up) * step
        while tick <= end {
            ticks.append(tick)
            tick += step
        }
        return ticks
    }

    static func timeLabel(_ seconds: Double, span: Double) -> String {
        if span > 2 * 86400 {
            let day = Int(seconds / 86400)
            let rest = Int(seconds) % 86400
            return String(format: "d%d %02d:%02d", day, rest / 3600, rest % 3600 / 60)
        }
        if span > 7200 { return String(format: "%.0fh", seconds / 3600) }
        if span > 120 { return String(format: "%.0fmin", seconds / 60) }
        return String(format: "%.0fs", seconds)
    }

    /// 500ms, 2s, 1.5s.
    static func duration(_ seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        return seconds == seconds.rounded() ? "\(Int(seconds))s" : String(format: "%.1fs", seconds)
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value))" : String(format: "%.1f", value)
    }

    static func format(_ value: Double) -> String {
        String(format: "%.1f", value.isFinite ? value : 0)
    }

    static func frame(_ y: Double, _ height: Double) -> String {
        "<rect x=\"\(Int(left))\" y=\"\(Int(y))\" width=\"\(Int(plotWidth))\" height=\"\(Int(height))\" "
            + "fill=\"none\" stroke=\"#444\"/>\n"
    }

    static func gridLine(_ y: Double) -> String {
        "<line x1=\"\(Int(left))\" y1=\"\(format(y))\" x2=\"\(Int(width - right))\" y2=\"\(format(y))\" "
            + "stroke=\"#eee\"/>\n"
    }

    static func label(_ x: Double, _ y: Double, _ text: String, anchor: String, rotate: Bool = false) -> String {
        let transform = rotate ? " transform=\"rotate(-90 \(format(x)) \(format(y)))\"" : ""
        return
            "<text x=\"\(format(x))\" y=\"\(format(y))\" text-anchor=\"\(anchor)\"\(transform)>\(escape(text))</text>\n"
    }

    static func path(_ points: [(Double, Double)], color: String, width: Double) -> String {
        guard let first = points.first else { return "" }
        var d = "M\(format(first.0)) \(format(first.1))"
        for point in points.dropFirst() { d += "L\(format(point.0)) \(format(point.1))" }
        return "<path d=\"\(d)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(width)\"/>\n"
    }

    static func stepPath(_ points: [(Double, Double)], color: String, width: Double, dash: String? = nil) -> String {
        guard let first = points.first else { return "" }
        var d = "M\(format(first.0)) \(format(first.1))"
        var previousY = first.1
        for point in points.dropFirst() {
            if point.1 != previousY { d += "H\(format(point.0))V\(format(point.1))" }
            previousY = point.1
        }
        d += "H\(format(points.last!.0))"
        let dashes = dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
        return "<path d=\"\(d)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(width)\"\(dashes)/>\n"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&apos;")
    }
}

/// The timeline as CSV (RFC 4180).
public enum TimelineCSV {
    public static func csv(_ points: [TimelinePoint]) -> String {
        var lines = ["time_s,load_rps,waiting,desired,ready,pods,ttft_p95_s,reason"]
        for point in points {
            let fields = [
                decimal(point.time), decimal(point.load), decimal(point.waiting), "\(point.desired)", "\(point.ready)",
                "\(point.pods)", point.ttftP95.map(decimal) ?? "", quoted(point.reason),
            ]
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Up to 3 decimals, never in exponent form.
    static func decimal(_ value: Double) -> String {
        guard value.isFinite else { return "" }
        var text = String(format: "%.3f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    static func quoted(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
