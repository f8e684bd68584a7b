#!/bin/sh
# The controller at one policy under a hard memory limit, as a Kubernetes memory limit applies it: the process runs in
# a memory cgroup (v2 memory.max, or v1 memory.limit_in_bytes), where the kernel reclaims page cache (code pages that
# can be read again) before it kills anything. Prints scale-bench's row and whether the kernel had to kill.
#
# Usage (root): scripts/memory-limit-bench.sh LIMIT_MIB CONTROLLER INFERENCE_TOOLS
set -eu
limit_mib=$1
controller=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
tools=$3
work=$(mktemp -d)
name="inference-autoscaler-bench-$$"
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    group=/sys/fs/cgroup/$name
    mkdir "$group"
    echo $((limit_mib * 1024 * 1024)) > "$group/memory.max"
    echo 0 > "$group/memory.swap.max" 2>/dev/null || true
    oom() { grep '^oom_kill ' "$group/memory.events" | cut -d' ' -f2; }
    peak() { cat "$group/memory.peak" 2>/dev/null || echo unknown; }
elif [ -d /sys/fs/cgroup/memory ]; then
    group=/sys/fs/cgroup/memory/$name
    mkdir "$group"
    echo $((limit_mib * 1024 * 1024)) > "$group/memory.limit_in_bytes"
    oom() { grep '^oom_kill ' "$group/memory.oom_control" | cut -d' ' -f2; }
    peak() { cat "$group/memory.max_usage_in_bytes"; }
else
    echo "no memory cgroup here" >&2
    exit 2
fi
cat > "$work/controller.sh" <<WRAPPER
#!/bin/sh
echo \$\$ > "$group/cgroup.procs"
exec "$controller" "\$@"
WRAPPER
chmod +x "$work/controller.sh"
"$tools" scale-bench --policies 1 --seconds 60 --reactions 2 --unrelated-pods 0 --controller "$work/controller.sh" \
    --out "$work" > "$work/bench.log" 2>&1 || { cat "$work/bench.log"; rmdir "$group"; exit 1; }
echo "limit ${limit_mib} MiB: cgroup peak $(peak) bytes (page cache included), OOM kills $(oom)"
grep '^| 1 ' "$work/scale.md"
rmdir "$group"
rm -rf "$work"
