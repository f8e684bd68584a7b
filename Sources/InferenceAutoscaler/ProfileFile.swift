import Foundation
import KubernetesModel
import PolicyFiles
import Simulator

/// A problem with a profile file, with the field path.
struct ProfileFileError: Error, CustomStringConvertible {
    var description: String
}

extension PodProfile {
    /// A custom profile from a YAML or JSON file: the fields of `PodProfile` (seconds, tokens, counts).
    static func load(_ path: String) throws -> PodProfile {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ProfileFileError(description: "\(path): cannot read file: \(error.localizedDescription)")
        }
        let documents: [JSONValue]
        do {
            documents = try PolicyFiles.documents(text, file: path)
        } catch {
            throw ProfileFileError(description: error.description)
        }
        guard documents.count == 1, let document = documents.first else {
            throw ProfileFileError(description: "\(path): expected one profile document, found \(documents.count)")
        }
        let profile: PodProfile
        do {
            profile = try JSONDecoder().decode(PodProfile.self, from: try document.jsonData())
        } catch let error as DecodingError {
            throw ProfileFileError(description: "\(path): \(PolicyFiles.violation(for: error))")
        }
        let problems = profile.problems
        guard problems.isEmpty else {
            throw ProfileFileError(description: problems.map { "\(path): \($0)" }.joined(separator: "\n"))
        }
        return profile
    }
}
