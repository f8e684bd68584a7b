#!/bin/sh
# A plugin that hangs: it writes its pid to $PID_FILE (when set) first, then sleeps $1 seconds (20 without one).
[ -n "$PID_FILE" ] && echo $$ > "$PID_FILE"
exec sleep "${1:-20}"
