#!/bin/sh
# Prints $RESPONSE as it is.
printf '%s\n' "$RESPONSE"
