import Foundation

/// Why the API server or its credentials could not be found or used.
///
/// The message always names the file that is missing or broken and, for kubeconfig problems, the context, cluster
/// or user involved, so that an operator can fix it without reading code. Token sources throw it too (token file
/// empty, exec plugin failed), naming the file or the plugin command.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of problem this is; stable for callers that branch on it. The message carries the details.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String
        private init(_ description: String) { self.description = description }

        /// A file that must exist does not (an explicit kubeconfig, a certificate, a token file, `ca.crt`).
        public static let fileNotFound = Code("fileNotFound")
        /// A file exists but cannot be read.
        public static let unreadableFile = Code("unreadableFile")
        /// A kubeconfig is not valid YAML, has a field of the wrong type, or repeats a name.
        public static let invalidKubeconfig = Code("invalidKubeconfig")
        /// A field holds a value that cannot be used: a server that is not an http(s) URL, invalid base64, a missing
        /// required field.
        public static let invalidValue = Code("invalidValue")
        /// Two settings contradict each other (a CA with `insecure-skip-tls-verify`, a certificate both as a file and
        /// as data, a client certificate without its key).
        public static let conflictingSettings = Code("conflictingSettings")
        /// The requested context is not in the kubeconfig.
        public static let contextNotFound = Code("contextNotFound")
        /// No context was requested and the kubeconfig sets no `current-context`.
        public static let noCurrentContext = Code("noCurrentContext")
        /// A context names a cluster that no loaded file defines.
        public static let clusterNotFound = Code("clusterNotFound")
        /// A context names a user that no loaded file defines.
        public static let userNotFound = Code("userNotFound")
        /// Something kubectl accepts that this client does not do (basic auth, `auth-provider`, impersonation,
        /// client certificates from exec plugins).
        public static let unsupported = Code("unsupported")
        /// In-cluster configuration was asked for but the service environment variables are not set.
        public static let notInCluster = Code("notInCluster")
        /// No kubeconfig file and no in-cluster environment were found.
        public static let noConfiguration = Code("noConfiguration")
        /// A token file is empty.
        public static let emptyToken = Code("emptyToken")
        /// An exec plugin's command is not an executable file, nor found in `PATH`.
        public static let execPluginNotFound = Code("execPluginNotFound")
        /// An exec plugin could not be started, exited non-zero or was killed.
        public static let execPluginFailed = Code("execPluginFailed")
        /// An exec plugin ran longer than its timeout and was killed.
        public static let execPluginTimedOut = Code("execPluginTimedOut")
        /// An exec plugin's output is not a usable `ExecCredential` of the configured API version.
        public static let execPluginInvalidOutput = Code("execPluginInvalidOutput")
    }

    /// What kind of problem this is.
    public var code: Code
    /// The full explanation, naming the file (and context, cluster, user or plugin command) involved.
    public var message: String
    /// The file that is missing or broken, when one is.
    public var file: String?

    public init(_ code: Code, _ message: String, file: String? = nil) {
        self.code = code
        self.message = message
        self.file = file
    }

    public var description: String { message }
}
