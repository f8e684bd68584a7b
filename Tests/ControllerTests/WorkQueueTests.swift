import Clocks
import Foundation
import Testing

@testable import Controller

@Suite(.timeLimit(.minutes(1))) struct WorkQueueTests {
    @Test func aKeyIsQueuedOnceAndRunsAgainIfAddedWhileProcessing() async {
        let queue = WorkQueue()
        await queue.add("a")
        await queue.add("a")
        await queue.add("b")
        #expect(await queue.depth == 2)
        #expect(await queue.next() == "a")
        await queue.add("a")
        #expect(await queue.depth == 1)
        #expect(await queue.next() == "b")
        await queue.done("a")
        #expect(await queue.next() == "a")
    }

    @Test func delayedKeysBecomeDueAndAnEarlierAddWins() async {
        let clock = TestClock()
        let queue = WorkQueue(clock: clock)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await queue.runTimers(resolution: .milliseconds(10)) }
            await queue.add("later", after: 0.2)
            await queue.add("now", after: 10)
            await queue.add("now")
            #expect(await queue.next() == "now")
            await queue.done("now")
            await clock.advance(by: .milliseconds(190))
            #expect(await queue.depth == 0)
            await clock.advance(by: .milliseconds(10))
            #expect(await queue.next() == "later")
            // "now" ran at once: its delayed add was superseded and does not come back.
            await clock.advance(by: .seconds(10))
            #expect(await queue.depth == 0)
            await queue.shutDown()
            group.cancelAll()
        }
        #expect(await queue.next() == nil)
    }

    @Test func backoffGrowsPerKeyAndForgetResetsIt() async {
        let clock = TestClock()
        let queue = WorkQueue(clock: clock, baseDelay: 0.05, maxDelay: 1)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await queue.runTimers(resolution: .milliseconds(5)) }
            // Steps of 0.05, 0.1, 0.2 s, each jittered to 80-100 %: never due before 80 %, always by 100 %.
            for step in [50, 100, 200] {
                await queue.retry("k")
                await clock.advance(by: .milliseconds(step * 8 / 10 - 5))
                #expect(await queue.depth == 0, "due before 80 % of a \(step) ms step")
                await clock.advance(by: .milliseconds(step * 2 / 10 + 5))
                #expect(await queue.next() == "k")
                await queue.done("k")
            }
            #expect(await queue.failures(of: "k") == 3)
            await queue.forget("k")
            #expect(await queue.failures(of: "k") == 0)
            await queue.shutDown()
            group.cancelAll()
        }
    }

    /// The ceiling holds however many failures in a row.
    @Test func backoffStopsAtItsMaximum() async {
        let clock = TestClock()
        let queue = WorkQueue(clock: clock, baseDelay: 1, maxDelay: 4)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await queue.runTimers(resolution: .milliseconds(100)) }
            for _ in 0..<10 {
                await queue.retry("k")
                await clock.advance(by: .seconds(4))
                #expect(await queue.next() == "k")
                await queue.done("k")
            }
            await queue.shutDown()
            group.cancelAll()
        }
    }
}
