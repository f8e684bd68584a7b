import Foundation

/// Percent-encoding that leaves only RFC 3986 unreserved characters bare, so `+`, `=`, `&` and `/` in values (label
/// selectors, continue tokens, PromQL) reach the server intact.
public enum PercentEncoding {
    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// One path segment or one query name or value.
    public static func component(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    /// `name=value&…`, each side encoded.
    public static func query(_ items: [(String, String)]) -> String {
        items.map { "\(component($0.0))=\(component($0.1))" }.joined(separator: "&")
    }
}
