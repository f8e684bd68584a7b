extension LoopbackHTTPServer {
    /// Serves whatever `render` returns at each scrape of `/metrics` (404 elsewhere): a pod of a live simulated
    /// fleet, as Prometheus' service discovery would find it.
    public static func metrics(render: @escaping @Sendable () -> String) async throws -> LoopbackHTTPServer {
        try await start(backlog: 64) { request in
            request.path == "/metrics"
                ? Response(contentType: "text/plain; version=0.0.4; charset=utf-8", body: render())
                : Response(status: 404, contentType: "text/plain", body: "not found\n")
        }
    }
}
