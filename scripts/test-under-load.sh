#!/usr/bin/env bash
# The suite again on a busy machine: one core kept busy by a busy-loop child process (started
# here and stopped by its PID, whatever happens), then `npm test`, which must pass there too.
set -euo pipefail
cd "$(dirname "$0")/.."

node -e 'for (;;) {}' &
HOG=$!
trap 'kill "$HOG" 2>/dev/null || true' EXIT
echo "test:load: a busy loop holds one core (pid $HOG)"
started=$(date +%s)
npm test
echo "test:load: npm test passed with one core busy in $(( $(date +%s) - started )) s"
