// The transport's types (TLSSettings, HTTPClientError, …) are part of this module's API.
@_exported import CurlHTTP
