#!/usr/bin/env python3
"""Checks that the modules' arrows point one way.

From `swift package dump-package`: every target may depend only on targets declared above it in Package.swift;
product modules never on a test kit or a tool, test kits never on a tool; and every `import` of a package target in
a target's sources is one of its declared dependencies. A few arrows the design forbids outright are checked by
name. Prints each target's imports of package targets, then exits 1 on any violation.
"""
import json
import os
import re
import subprocess
import sys

# Arrows that must not exist even if someone declared them: the wire model and the clients know nothing of the
# decision, the controller sees signals only through the core's SignalSource protocol.
FORBIDDEN = {
    "KubernetesModel": {"AutoscalerCore"},
    "CurlHTTP": {"AutoscalerCore", "KubernetesModel"},
    "KubernetesClient": {"AutoscalerCore", "Signals", "Controller"},
    "KubernetesTestServer": {"AutoscalerCore", "KubernetesClient"},
    "Signals": {"Controller", "KubernetesClient"},
    "Controller": {"Signals"},
    "AutoscalerCore": {"CurlHTTP", "KubernetesClient", "Signals", "Controller"},
}

IMPORT = re.compile(r"^\s*(?:@testable\s+|@_exported\s+|internal\s+|public\s+|private\s+)*import\s+(\w+)", re.M)


def layer(target):
    path = target.get("path") or ""
    if target["type"] == "test":
        return "tests"
    if path.startswith("Sources/TestKits"):
        return "test kit"
    if path.startswith("Sources/Tools"):
        return "tool"
    return "product"


def source_dir(root, target):
    if target.get("path"):
        return os.path.join(root, target["path"])
    return os.path.join(root, "Tests" if target["type"] == "test" else "Sources", target["name"])


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    manifest = json.loads(subprocess.check_output(["swift", "package", "dump-package"], cwd=root))
    targets = manifest["targets"]
    names = [t["name"] for t in targets]
    position = {name: index for index, name in enumerate(names)}
    kinds = {t["name"]: layer(t) for t in targets}
    rank = {"product": 0, "test kit": 1, "tool": 2, "tests": 3}
    problems = []
    for target in targets:
        name = target["name"]
        declared = set()
        for dependency in target.get("dependencies", []):
            for kind in ("byName", "target"):
                if kind in dependency:
                    declared.add(dependency[kind][0])
        declared &= set(names)
        for dependency in sorted(declared):
            if position[dependency] > position[name]:
                problems.append(f"{name} depends on {dependency}, which Package.swift declares below it")
            if rank[kinds[dependency]] > rank[kinds[name]] or (kinds[dependency] == "tests"):
                problems.append(f"{name} ({kinds[name]}) depends on {dependency} ({kinds[dependency]})")
            if dependency in FORBIDDEN.get(name, set()):
                problems.append(f"{name} must not depend on {dependency}")
        imported = set()
        directory = source_dir(root, target)
        for folder, _, files in os.walk(directory):
            for file in files:
                if file.endswith(".swift"):
                    with open(os.path.join(folder, file), encoding="utf-8") as handle:
                        imported.update(IMPORT.findall(handle.read()))
        imported = {module for module in imported if module in position and module != name}
        for module in sorted(imported - declared):
            problems.append(f"{name} imports {module} without declaring it")
        if target["type"] != "system":
            print(f"{name:26} {kinds[name]:9} -> {', '.join(sorted(imported)) or '-'}")
    for problem in problems:
        print("layer violation: " + problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
