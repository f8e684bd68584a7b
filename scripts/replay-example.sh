#!/bin/sh
# The README's replay example: a day of a vLLM Deployment's metrics (ServeGen m-small traffic, a cron-style live
# scaler; scripts/replay-history.py) backfilled into a throwaway Prometheus with promtool, then
#   inference-autoscaler simulate --from-prometheus ... --policy config/samples/vllm.yaml --since 1d
# Usage: scripts/replay-example.sh INFERENCE_AUTOSCALER [CHART.svg]
set -eu
binary=${1:?the inference-autoscaler binary}
chart=${2:-docs/replay-timeline.svg}
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
end=$(( $(date +%s) / 60 * 60 - 300 ))
python3 scripts/replay-history.py ../shared/traces/servegen_m-small_rate_600s.csv "$end" > "$dir/history.om"
promtool tsdb create-blocks-from openmetrics "$dir/history.om" "$dir/data" > /dev/null
printf 'global:\n  scrape_interval: 30s\n' > "$dir/prometheus.yml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
	--web.listen-address="127.0.0.1:$port" --log.level=warn 2> "$dir/prometheus.log" &
pid=$!
for _ in $(seq 50); do
	curl -sf "http://127.0.0.1:$port/-/ready" > /dev/null 2>&1 && break
	sleep 0.2
done
until=$(date -u -d "@$end" +%Y-%m-%dT%H:%M:%SZ)
"$binary" simulate --from-prometheus "http://127.0.0.1:$port" --policy config/samples/vllm.yaml \
	--namespace inference --target vllm-llama3 --since 1d --until "$until" --step 60s --baselines oracle,hpa \
	--chart "$chart"
