#!/usr/bin/env bash
# The README's first command: set up, build, and run bpmd on the embedded
# SQLite store with the bundled workflows and stage plugins.
#
#   deploy/run.sh            listens on 127.0.0.1:7411, data in ./data/
#   BPM_LISTEN=127.0.0.1:9000 BPM_DATA=/tmp/bpm deploy/run.sh
#
# Runs in DEVELOPMENT IDENTITY MODE (callers name themselves in metadata);
# never expose it beyond loopback.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/deploy/setup.sh" bpmd bpmctl bpm_stage_plugins

listen=${BPM_LISTEN:-127.0.0.1:7411}
data=${BPM_DATA:-$root/data}
mkdir -p "$data"
echo "setup.sh: built. bpmctl is at $root/build/bin/bpmctl"
cd "$root"
exec "$root/build/bin/bpmd" \
  --listen "$listen" \
  --store "sqlite:$data/bpm.db" \
  --workflows "$root/workflows" \
  --plugins "$root/build/plugins" \
  --calendars "$root/deploy/calendars" \
  --dev-identity
