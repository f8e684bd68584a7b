#!/bin/sh
# Counts its runs in $COUNT_FILE and answers with token run-N expiring at $1 (none when empty).
# $DELAY seconds of sleep first lets concurrent callers pile up.
[ -n "$DELAY" ] && sleep "$DELAY"
count=$(( $(cat "$COUNT_FILE" 2>/dev/null || echo 0) + 1 ))
echo "$count" > "$COUNT_FILE"
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"run-%s","expirationTimestamp":"%s"}}\n' \
    "$count" "$1"
