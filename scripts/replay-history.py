#!/usr/bin/env python3
"""Writes a day of a vLLM Deployment's metrics as OpenMetrics, for `promtool tsdb create-blocks-from openmetrics`.

Traffic: a ServeGen rate file (600 s windows), scaled so that its busiest window is PEAK requests per second.
Replicas: what a cron-style scaler runs (KEDA's cron trigger, as teams set it): DAY_PODS from 08:00 to 20:00 UTC of
the replayed day, NIGHT_PODS otherwise. The day ends END seconds since 1970 (default: five minutes ago).
Usage: replay-history.py RATE_FILE [END]
"""
import csv
import math
import sys
import time

PEAK = 120.0
DAY_PODS, NIGHT_PODS = 6, 3
SCRAPE = 30
NAMESPACE, POD_PREFIX = "inference", "vllm-llama3-7d9c5b6f4-"
PROMPT, GENERATED = None, None  # from the rate file's means
TTFT_SHARES = [(0.1, 0.6), (0.25, 0.9), (0.5, 0.97), (1.0, 0.995), (2.5, 0.999)]


def main():
    rows = list(csv.DictReader(open(sys.argv[1])))[:144]
    end = float(sys.argv[2]) if len(sys.argv) > 2 else math.floor(time.time() / 60) * 60 - 300
    start = end - 86400
    top = max(float(r["requests_per_s"]) for r in rows)
    windows = [(float(r["requests_per_s"]) * PEAK / top, float(r["mean_input_tokens"]), float(r["mean_output_tokens"]))
               for r in rows]
    pods_max = DAY_PODS
    served = [0.0] * pods_max
    prompt = [0.0] * pods_max
    generated = [0.0] * pods_max
    samples = [[] for _ in range(pods_max)]
    t = start
    while t < end:
        hour = ((t - start) / 3600) % 24
        pods = DAY_PODS if 8 <= hour < 20 else NIGHT_PODS
        rate, input_tokens, output_tokens = windows[min(len(windows) - 1, int((t - start) // 600))]
        for pod in range(pods):
            samples[pod].append((t, served[pod], prompt[pod], generated[pod]))
            share = rate / pods * SCRAPE
            served[pod] += share
            prompt[pod] += share * input_tokens
            generated[pod] += share * output_tokens
        t += SCRAPE
    out = sys.stdout

    def labels(pod, extra=""):
        return '{namespace="%s",pod="%s%s"%s}' % (NAMESPACE, POD_PREFIX, "abcdef"[pod] * 5, extra)

    out.write("# TYPE vllm:time_to_first_token_seconds histogram\n")
    for pod in range(pods_max):
        for ts, count, _, _ in samples[pod]:
            for bound, share in TTFT_SHARES:
                out.write('vllm:time_to_first_token_seconds_bucket%s %.3f %.3f\n' % (labels(pod, ',le="%s"' % bound), count * share, ts))
            out.write('vllm:time_to_first_token_seconds_bucket%s %.3f %.3f\n' % (labels(pod, ',le="+Inf"'), count, ts))
            out.write('vllm:time_to_first_token_seconds_count%s %.3f %.3f\n' % (labels(pod), count, ts))
            out.write('vllm:time_to_first_token_seconds_sum%s %.3f %.3f\n' % (labels(pod), count * 0.15, ts))
    for family, index in (("vllm:prompt_tokens", 2), ("vllm:generation_tokens", 3)):
        out.write("# TYPE %s counter\n" % family)
        for pod in range(pods_max):
            for sample in samples[pod]:
                out.write("%s_total%s %.1f %.3f\n" % (family, labels(pod), sample[index], sample[0]))
    for family in ("vllm:num_requests_running", "vllm:num_requests_waiting"):
        out.write("# TYPE %s gauge\n" % family)
        for pod in range(pods_max):
            for sample in samples[pod]:
                out.write("%s%s %d %.3f\n" % (family, labels(pod), 12 if family.endswith("running") else 0, sample[0]))
    out.write("# EOF\n")


main()
