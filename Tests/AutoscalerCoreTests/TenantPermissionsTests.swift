import Foundation
import KubernetesModel
import Testing

@testable import AutoscalerCore

@Suite struct SeriesSelectorsTests {
    @Test func scopingAddsTheNamespaceToEverySelectorThatHasNone() throws {
        let query =
            #"sum(rate(a_total{code="5xx"}[2m])) / sum(rate(a_total [2m])) + b{namespace="other"} + {__name__="c"}"#
        let scoped = try SeriesSelectors.scoped(query, to: "ns").get()
        #expect(
            scoped
                == #"sum(rate(a_total{namespace="ns", code="5xx"}[2m])) / sum(rate(a_total{namespace="ns"} [2m])) + b{namespace="other"} + {namespace="ns", __name__="c"}"#
        )
        // A selector naming another namespace is left for the check to report, not rewritten.
        #expect(
            SeriesSelectors.namespaceProblem(in: scoped, namespace: "ns")?.contains("b{namespace=\"other\"}") == true)
        #expect(
            SeriesSelectors.namespaceProblem(
                in: try SeriesSelectors.scoped("sum(x) or vector(0)", to: "ns").get(), namespace: "ns") == nil)
    }

    @Test func selectorsAreFoundBesideFunctionsGroupingsAndStrings() throws {
        let query = #"""
            sum by (pod, namespace) (rate(http_requests_total{namespace="a", code=~"5.."}[5m] offset 1m))
              / on (pod) group_left (node) max(up{namespace="a"}) # a comment: other{namespace="b"}
              + label_replace(vector(1), "namespace", "b", "", "") * 1e-3
            """#
        let selectors = try SeriesSelectors.parse(query).get()
        #expect(selectors.map(\.metric) == ["http_requests_total", "up"])
        #expect(
            selectors[0].matchers == [
                .init(label: "namespace", op: "=", value: "a"), .init(label: "code", op: "=~", value: "5.."),
            ])
        #expect(SeriesSelectors.namespaceProblem(in: query, namespace: "a") == nil)
    }

    @Test(arguments: [
        #"sum(x)"#,
        #"sum(x{namespace="a"}) + sum(y)"#,
        #"sum(x{namespace!="a"})"#,
        #"sum(x{namespace=~"a|b"})"#,
        #"sum({__name__="x", namespace="b"})"#,
        #"sum(x{namespace="a"}) or on() y{pod="p"}"#,
    ])
    func aSelectorWithoutTheExactNamespaceMatcherIsAProblem(query: String) {
        let problem = SeriesSelectors.namespaceProblem(in: query, namespace: "a")
        #expect(problem?.contains(#"no namespace="a" matcher"#) == true, "\(query)")
    }

    @Test(arguments: [#"sum(x{namespace="a"}"#, #"x{namespace="a}"#, #"x[5m"#])
    func anUnreadableQueryIsAProblemNotAPass(query: String) {
        #expect(SeriesSelectors.namespaceProblem(in: query, namespace: "a")?.contains("cannot read") == true)
    }
}

@Suite struct TenantPermissionsTests {
    static func policy(
        namespace: String = "team-a", prometheus: String, signals: String = #"[{"type":"QueueDepth","target":5}]"#
    )
        throws -> ResolvedPolicy
    {
        let json = """
            {"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy",
             "metadata":{"name":"p","namespace":"\(namespace)"},
             "spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"d"},"maxReplicas":4,
                     "prometheus":\(prometheus),"signals":\(signals)}}
            """
        return try PolicyValidator.resolve(JSONDecoder().decode(InferenceAutoscalePolicy.self, from: Data(json.utf8)))
            .get()
    }

    static let closed = TenantPermissions(
        customQueryNamespaces: ["team-a"], prometheusAddresses: ["https://thanos.monitoring:9091"],
        headerNamespaces: [], insecureNamespaces: [], defaultPrometheus: "http://prometheus.monitoring:9090")

    @Test func theDefaultAndAllowListedAddressesAreAllowedAndNoOther() throws {
        #expect(Self.closed.refusal(for: try Self.policy(prometheus: "{}")) == nil)
        for allowed in ["http://prometheus.monitoring:9090/", "HTTPS://Thanos.monitoring:9091"] {
            #expect(Self.closed.refusal(for: try Self.policy(prometheus: #"{"address":"\#(allowed)"}"#)) == nil)
        }
        let refusal = Self.closed.refusal(for: try Self.policy(prometheus: #"{"address":"http://10.0.0.9:9090"}"#))
        guard case .prometheus(let message)? = refusal else {
            Issue.record("not refused: \(String(describing: refusal))")
            return
        }
        #expect(message.contains("--allow-prometheus"))
        var open = Self.closed
        open.prometheusAddresses = ["*"]
        #expect(open.refusal(for: try Self.policy(prometheus: #"{"address":"http://10.0.0.9:9090"}"#)) == nil)
    }

    @Test func headersAndInsecureTLSNeedTheirNamespaceAllowed() throws {
        let tenant = try Self.policy(prometheus: #"{"headers":{"X-Scope-OrgID":"team-b"}}"#)
        guard case .prometheus(let message)? = Self.closed.refusal(for: tenant) else {
            Issue.record("headers not refused")
            return
        }
        #expect(message.contains("X-Scope-OrgID") && message.contains("--allow-prometheus-headers-in"))
        let insecure = try Self.policy(prometheus: #"{"tls":{"insecureSkipVerify":true}}"#)
        #expect(Self.closed.refusal(for: insecure) != nil)
        var permitted = Self.closed
        permitted.headerNamespaces = ["team-a"]
        permitted.insecureNamespaces = ["*"]
        #expect(permitted.refusal(for: tenant) == nil)
        #expect(permitted.refusal(for: insecure) == nil)
    }

    @Test func aCustomQueryMustStayInItsNamespaceEvenWhereCustomQueriesAreAllowed() throws {
        let own = try Self.policy(
            prometheus: "{}", signals: #"[{"type":"Custom","target":5,"query":"sum(q{namespace=\"team-a\"})"}]"#)
        #expect(Self.closed.refusal(for: own) == nil)
        let other = try Self.policy(
            prometheus: "{}", signals: #"[{"type":"Custom","target":5,"query":"sum(q{namespace=\"team-b\"})"}]"#)
        guard case .customQuery(let message)? = Self.closed.refusal(for: other) else {
            Issue.record("a query of another namespace was not refused")
            return
        }
        #expect(message.contains(#"no namespace="team-a" matcher"#))
        let elsewhere = try Self.policy(
            namespace: "team-c", prometheus: "{}",
            signals: #"[{"type":"Custom","target":5,"query":"sum(q{namespace=\"team-c\"})"}]"#)
        guard case .customQuery(let denied)? = Self.closed.refusal(for: elsewhere) else {
            Issue.record("a Custom query outside the allowed namespaces was not refused")
            return
        }
        #expect(denied.contains("--allow-custom-queries-in"))
    }

    @Test func credentialsInTheAddressAreAnInvalidSpec() throws {
        let json = """
            {"apiVersion":"autoscaling.inference.dev/v1alpha1","kind":"InferenceAutoscalePolicy",
             "metadata":{"name":"p","namespace":"a"},
             "spec":{"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"d"},"maxReplicas":4,
                     "prometheus":{"address":"https://admin:hunter2@prometheus:9090"}}}
            """
        let policy = try JSONDecoder().decode(InferenceAutoscalePolicy.self, from: Data(json.utf8))
        guard case .failure(let failure) = PolicyValidator.resolve(policy) else {
            Issue.record("accepted credentials in the URL")
            return
        }
        #expect(failure.violations.map(\.path) == ["spec.prometheus.address"])
        #expect(!failure.description.contains("hunter2"))
    }
}
