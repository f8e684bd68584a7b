// Temporary until the helpers' files land.
public struct HPAScaler: FleetScaler {
    public var name: String { "hpa" }
    public var syncPeriod: Double { 15 }
    public var initialReplicas: Int
    public init(minReplicas: Int, maxReplicas: Int, targetWaitingPerPod: Double = 5, initialReplicas: Int) { self.initialReplicas = initialReplicas }
    public func sync(_ observation: FleetObservation) -> (replicas: Int, reason: String) { (initialReplicas, "x") }
}
public typealias KEDAScaler = HPAScaler
extension HPAScaler { init(maxReplicas: Int) { self.init(minReplicas: 2, maxReplicas: maxReplicas, initialReplicas: 2) } }
public struct KPAScaler: FleetScaler {
    public var name: String { "kpa" }
    public var syncPeriod: Double { 2 }
    public var initialReplicas: Int
    public init(minReplicas: Int, maxReplicas: Int, profile: PodProfile, initialReplicas: Int) { self.initialReplicas = initialReplicas }
    public func sync(_ observation: FleetObservation) -> (replicas: Int, reason: String) { (initialReplicas, "x") }
}
public enum TimelineChart { public static func svg(_ points: [TimelinePoint], title: String, sloTTFT: Double, gpusPerReplica: Int = 1) -> String { "" } }
public enum TimelineCSV { public static func csv(_ points: [TimelinePoint]) -> String { points.map { "\($0.time),\($0.load),\($0.waiting),\($0.desired),\($0.ready),\($0.pods),\($0.ttftP95 ?? -1),\($0.reason)" }.joined(separator: "\n") } }
