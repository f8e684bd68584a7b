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
        let queue = WorkQueue()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await queue.runTimers(resolution: .milliseconds(10)) }
            await queue.add("later", after: 0.2)
            await queue.add("now", after: 10)
            await queue.add("now")
            #expect(await queue.next() == "now")
            #expect(await queue.next() == "later")
            await queue.shutDown()
        }
        #expect(await queue.next() == nil)
    }

    @Test func backoffGrowsPerKeyAndForgetResetsIt() async {
        let queue = WorkQueue(baseDelay: 0.05, maxDelay: 1)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await queue.runTimers(resolution: .milliseconds(5)) }
            let clock = ContinuousClock()
            var waits: [Duration] = []
            for _ in 0..<3 {
                let started = clock.now
                await queue.retry("k")
                _ = await queue.next()
                await queue.done("k")
                waits.append(started.duration(to: clock.now))
            }
            // Steps of 0.05, 0.1, 0.2 s (each at least 80 % of its step): sleeps never end early.
            #expect(waits[1] >= .milliseconds(80))
            #expect(waits[2] >= .milliseconds(160))
            #expect(await queue.failures(of: "k") == 3)
            await queue.forget("k")
            #expect(await queue.failures(of: "k") == 0)
            await queue.shutDown()
        }
    }
}
