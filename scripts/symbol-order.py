#!/usr/bin/env python3
"""Writes scripts/symbol-order.txt: the functions the controller runs, for lld's --symbol-ordering-file.

Linked in the order the compiler and the static Swift libraries give them, the few thousand functions a poll round
runs are spread over 8 MiB of code, and each one keeps a whole page resident. Listed first, they share a megabyte or
two. The list comes from a real run: the shipped controller under callgrind, driven by `scale-bench` at one policy.
Functions of the steady state (polls, a scale-up, the status writes) come first, then those only start-up ran.

Usage: scripts/symbol-order.py CONTROLLER INFERENCE_TOOLS  (`make symbol-order` builds both and runs it)
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "scripts", "symbol-order.txt")


def functions(dump, binary):
    """The functions of `binary` with cost in a callgrind dump, in the order they first appear."""
    objects, names, current, seen, out = {}, {}, None, set(), []
    pattern = re.compile(r"^(c?ob|c?fn)=\((\d+)\)(?: (.*))?$")
    with open(dump, errors="replace") as lines:
        for line in lines:
            match = pattern.match(line.rstrip("\n"))
            if not match:
                continue
            kind, ident, name = match.groups()
            table = objects if kind.endswith("ob") else names
            if name is not None:
                table[ident] = name
            if kind == "ob":
                current = objects.get(ident)
            elif kind == "fn" and current == binary:
                function = names.get(ident)
                # Addresses stand for code without a symbol; they cannot be ordered.
                if function and not function.startswith("0x") and function not in seen:
                    seen.add(function)
                    out.append(function)
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    controller, tools = (os.path.abspath(path) for path in sys.argv[1:])
    for tool in ("valgrind", "callgrind_control", "objcopy"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found (apt-get install valgrind binutils)")
    work = tempfile.mkdtemp(prefix="symbol-order-")
    # Valgrind 3.19 cannot read the DWARF 5 Swift emits; the symbol table is all it needs.
    stripped = os.path.join(work, "inference-autoscaler")
    subprocess.run(["objcopy", "--strip-debug", controller, stripped], check=True)
    wrapper = os.path.join(work, "controller.sh")
    with open(wrapper, "w") as script:
        script.write(
            "#!/bin/sh\nexec valgrind --tool=callgrind --demangle=no --dump-instr=no --dump-line=no "
            f"--callgrind-out-file={work}/callgrind.%p {stripped} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    bench = subprocess.Popen(
        [tools, "scale-bench", "--policies", "1", "--seconds", "60", "--reactions", "2", "--unrelated-pods", "0",
         "--controller", wrapper, "--out", work],
        stdout=subprocess.DEVNULL)
    # Start-up (flags, kubeconfig, the first lists and round) is over well within 20 s even under callgrind: dump it
    # then, so that the final dump holds only what the steady state and the reactions ran.
    deadline = time.time() + 60
    while not glob.glob(f"{work}/callgrind.*") and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(20)
    started = glob.glob(f"{work}/callgrind.*")
    if not started:
        bench.kill()
        sys.exit("the controller did not start under callgrind")
    pid = started[0].rsplit(".", 1)[1]
    subprocess.run(["callgrind_control", "--dump", pid], check=True, stdout=subprocess.DEVNULL)
    if bench.wait() != 0:
        sys.exit(f"scale-bench failed (its files are in {work})")
    startup = functions(f"{work}/callgrind.{pid}.1", stripped)
    steady = functions(f"{work}/callgrind.{pid}", stripped)
    order = steady + [name for name in startup if name not in set(steady)]
    with open(OUT, "w") as out:
        out.write("\n".join(order) + "\n")
    print(f"{OUT}: {len(steady)} functions of the steady state, {len(order) - len(steady)} of start-up only")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
