#!/usr/bin/env bash
# Runs the Zendesk webhook property test on many random and mutated deliveries (not part of CI).
#   connectors/zendesk/fuzz.sh [cases] [seed]
set -euo pipefail
cd "$(dirname "$0")/../.."
cases=${1:-2000000}
seed=${2:-$(date +%s)}
echo "webhook property test: $cases cases, seed $seed (re-run a failure with the same seed)"
OKNO_FUZZ_CASES=$cases OKNO_FUZZ_SEED=$seed \
  cargo test --release -p okno-zendesk --test webhook_props -- --nocapture
