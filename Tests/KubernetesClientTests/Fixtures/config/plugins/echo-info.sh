#!/bin/sh
# Answers with a token made of $GREETING, the first argument and KUBERNETES_EXEC_INFO in base64.
info=$(printf '%s' "$KUBERNETES_EXEC_INFO" | base64 | tr -d '\n')
printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"%s.%s.%s"}}\n' \
    "${PLUGIN_API_VERSION:-client.authentication.k8s.io/v1}" "${GREETING:-none}" "${1:-none}" "$info"
