#!/bin/sh
echo "error: the refresh token has expired; run 'cloud login'" >&2
exit 1
