import Foundation
import KubernetesModel
import Synchronization

/// Answers shared by key among concurrent callers: while one caller fetches, the others that ask for the same key wait
/// for its answer instead of asking Prometheus again, and an answer is reused while `fresh` says it may be.
final class SharedAnswers<Answer: Sendable>: Sendable {
    private struct Entry {
        var fetchedAt: ContinuousClock.Instant
        var answer: Answer
    }

    private struct State {
        var entries: [String: Entry] = [:]
        /// Keys being fetched, with the callers waiting for the answer.
        var inFlight: [String: [CheckedContinuation<Answer, Never>]] = [:]
    }

    private enum Step {
        case answered(Answer)
        case wait
        case fetch
    }

    private let state = Mutex(State())
    private let clock = ContinuousClock()

    /// - Parameters:
    ///   - fresh: whether an answer this many seconds old may be given again.
    ///   - fetch: runs in the first caller's task; the ones that come while it runs wait for its answer.
    func answer(
        key: String, fresh: (Answer, _ age: Double) -> Bool, fetch: () async -> Answer
    ) async -> Answer {
        let now = clock.now
        let step = state.withLock { state -> Step in
            if let entry = state.entries[key], fresh(entry.answer, (now - entry.fetchedAt).seconds) {
                return .answered(entry.answer)
            }
            if state.inFlight[key] != nil { return .wait }
            state.inFlight[key] = []
            return .fetch
        }
        switch step {
        case .answered(let answer):
            return answer
        case .wait:
            return await withCheckedContinuation { waiter in
                // The fetch may have ended between the two locks: then its answer is in the entries (written under
                // the same lock that ended it).
                let answered = state.withLock { state -> Answer? in
                    guard state.inFlight[key] != nil else { return state.entries[key]!.answer }
                    state.inFlight[key]!.append(waiter)
                    return nil
                }
                if let answered { waiter.resume(returning: answered) }
            }
        case .fetch:
            let answer = await fetch()
            let waiters = state.withLock { state in
                state.entries[key] = Entry(fetchedAt: clock.now, answer: answer)
                return state.inFlight.removeValue(forKey: key) ?? []
            }
            for waiter in waiters { waiter.resume(returning: answer) }
            return answer
        }
    }
}
