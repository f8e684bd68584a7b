import Foundation

extension ResolvedPolicy.Schedule {
    /// A window is open when its start fired more recently than its end (an end at the same minute wins).
    public func isActive(at now: Date) -> Bool {
        guard let opened = start.previousFire(atOrBefore: now, in: timeZone) else { return false }
        guard let closed = end.previousFire(atOrBefore: now, in: timeZone) else { return true }
        return opened > closed
    }
}

extension ResolvedPolicy {
    /// The highest floor among the schedules open at `now`, with the schedule's name; nil when none is open.
    public func activeScheduleFloor(at now: Date) -> (replicas: Int, name: String)? {
        var best: (replicas: Int, name: String)?
        for schedule in schedules where schedule.isActive(at: now) {
            if best == nil || schedule.minReplicas > best!.replicas {
                best = (schedule.minReplicas, schedule.name)
            }
        }
        return best
    }
}
