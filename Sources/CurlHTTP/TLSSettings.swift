import Foundation

/// How to verify a server (the Kubernetes API, Prometheus) and which client certificate to present.
///
/// PEM data and file paths are alternatives; when a kubeconfig gives both for the CA, the data wins (as in kubectl).
/// File paths are absolute.
public struct TLSSettings: Sendable, Equatable {
    /// CA bundle from `certificate-authority-data` (base64-decoded) or the in-cluster `ca.crt`.
    public var caCertificatePEM: Data?
    /// CA bundle file from `certificate-authority`; a relative path was resolved against its kubeconfig's directory.
    public var caCertificateFile: String?
    /// Client certificate from `client-certificate-data`.
    public var clientCertificatePEM: Data?
    /// Client certificate file from `client-certificate`.
    public var clientCertificateFile: String?
    /// Client key from `client-key-data`.
    public var clientKeyPEM: Data?
    /// Client key file from `client-key`.
    public var clientKeyFile: String?
    /// True only when a kubeconfig explicitly says `insecure-skip-tls-verify: true` (never as a fallback).
    public var insecureSkipVerify: Bool
    /// `tls-server-name`: the name to send for SNI and to check the server certificate against.
    public var serverName: String?

    public init(
        caCertificatePEM: Data? = nil, caCertificateFile: String? = nil, clientCertificatePEM: Data? = nil,
        clientCertificateFile: String? = nil, clientKeyPEM: Data? = nil, clientKeyFile: String? = nil,
        insecureSkipVerify: Bool = false, serverName: String? = nil
    ) {
        self.caCertificatePEM = caCertificatePEM
        self.caCertificateFile = caCertificateFile
        self.clientCertificatePEM = clientCertificatePEM
        self.clientCertificateFile = clientCertificateFile
        self.clientKeyPEM = clientKeyPEM
        self.clientKeyFile = clientKeyFile
        self.insecureSkipVerify = insecureSkipVerify
        self.serverName = serverName
    }
}
