import Foundation
import Testing

@testable import KubernetesTestServer

@Suite("Selectors and patch algorithms")
struct PureLogicTests {
    // The test cases of RFC 7386, appendix A.
    @Test(arguments: [
        (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
        (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
        (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
        (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
        (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
        (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
        (#"["a","b"]"#, #"["c","d"]"#, #"["c","d"]"#),
        (#"{"a":"b"}"#, #"["c"]"#, #"["c"]"#),
        (#"{"a":"foo"}"#, #"null"#, #"null"#),
        (#"{"e":null}"#, #"{"a":1}"#, #"{"a":1,"e":null}"#),
        (#"[1,2]"#, #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
        (#"{}"#, #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
    ])
    func mergePatchFollowsRFC7386(target: String, patch: String, expected: String) {
        #expect(Patch.mergePatch(parse(target), with: parse(patch)) == parse(expected))
    }

    @Test func jsonPatchMoveAndCopy() throws {
        let document = parse(#"{"a":{"b":1},"list":[1,2,3]}"#)
        let operations = parse(
            #"[{"op":"move","from":"/a/b","path":"/c"},{"op":"copy","from":"/list/0","path":"/list/-"},"#
                + #"{"op":"add","path":"/list/0","value":0}]"#
        )
        let result = try Patch.jsonPatch(document, operations: operations)
        #expect(result == parse(#"{"a":{},"c":1,"list":[0,1,2,3,1]}"#))
    }

    @Test func applyMergeMergesMapsAndReplacesLists() {
        let live = parse(#"{"a":{"x":1,"y":2},"l":[1,2],"s":"old"}"#)
        let applied = parse(#"{"a":{"y":3},"l":[9],"s":"new","n":true}"#)
        #expect(Patch.applyMerge(live, with: applied) == parse(#"{"a":{"x":1,"y":3},"l":[9],"s":"new","n":true}"#))
    }

    @Test func labelSelectorParsingAndText() throws {
        let selector = try LabelSelector(parsing: "tier notin (cpu), app in (b,a),!legacy, env=prod,x")
        // Sorted by key, as `labels.Parse` sorts them.
        #expect(selector.text == "app in (a,b),env=prod,!legacy,tier notin (cpu),x")
        #expect(selector.matches(["app": "a", "env": "prod", "x": ""]))
        #expect(!selector.matches(["app": "a", "env": "prod", "x": "", "legacy": "1"]))
        #expect(!selector.matches(["app": "c", "env": "prod", "x": ""]))
        #expect(throws: APIStatusError.self) { try LabelSelector(parsing: "app in a") }
        #expect(throws: APIStatusError.self) { try LabelSelector(parsing: "a=b c") }
        let numeric = try LabelSelector(parsing: "gpus>2")
        #expect(numeric.matches(["gpus": "4"]))
        #expect(!numeric.matches(["gpus": "2"]))
    }

    @Test func labelSelectorObjectToText() {
        let object = parse(
            #"{"matchLabels":{"tier":"gpu","app":"x"},"matchExpressions":["#
                + #"{"key":"zone","operator":"In","values":["b","a"]},{"key":"old","operator":"DoesNotExist"}]}"#
        )
        #expect(LabelSelector(labelSelectorObject: object)?.text == "app=x,!old,tier=gpu,zone in (a,b)")
    }

    @Test func patchFormatsFromContentType() {
        #expect(PatchFormat(contentType: "application/merge-patch+json; charset=utf-8") == .merge)
        #expect(PatchFormat(contentType: "application/json-patch+json") == .json)
        #expect(PatchFormat(contentType: "application/apply-patch+yaml") == .apply)
        #expect(PatchFormat(contentType: "application/json") == nil)
    }
}
