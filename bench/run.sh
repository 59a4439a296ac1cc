#!/usr/bin/env bash
# The performance benchmark (README, "Performance"): against the loopback emulator, in one interleaved
# run, the release binary doing the whole action, a baseline client doing only the two requests,
# `curl | jq | curl`, Node @azure/identity and Python azure-identity; then sizes, dependency count and
# the cold release build. Prints Markdown tables; exits 1 if any tool failed to complete an exchange.
#
# Usage: bash bench/run.sh [--quick] [--no-cold-build]
#   --quick          10 timed rounds instead of 40, no cold build (a smoke run)
#   --no-cold-build  skip the cold `cargo build --release` in a fresh target dir (about 3 minutes)
# Environment: ROUNDS, WARMUP, RSS_ROUNDS override the round counts; IMAGE names the runtime image whose
# size is reported (default: the one the container test builds).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-40}
warmup=${WARMUP:-3}
rss_rounds=${RSS_ROUNDS:-5}
cold_build=yes
for arg in "$@"; do
  case "$arg" in
    --quick) rounds=${ROUNDS:-10}; cold_build=no ;;
    --no-cold-build) cold_build=no ;;
    *) echo "usage: $0 [--quick] [--no-cold-build]" >&2; exit 2 ;;
  esac
done
image=${IMAGE:-localhost/azure-oidc-token:container-test}
export CARGO_TERM_COLOR=never

say() { printf '== %s\n' "$*" >&2; }

# 1. Tools from Debian's packages: GNU time (peak RSS), curl and jq (a contender), python3 (the harness).
missing=()
[ -x /usr/bin/time ] || missing+=(time)
command -v curl >/dev/null || missing+=(curl)
command -v jq >/dev/null || missing+=(jq)
command -v python3 >/dev/null || missing+=(python3 python3-venv)
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} (apt-get)"
  sudo_=""
  [ "$(id -u)" -eq 0 ] || sudo_=sudo
  $sudo_ apt-get update -qq
  $sudo_ apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. The Node and Python contenders, pinned (bench/node/package-lock.json, bench/python/requirements.txt).
# A failure here is not fatal: the table then says the tool is not installed.
if command -v npm >/dev/null; then
  say "npm ci (bench/node)"
  (cd bench/node && npm ci --no-audit --no-fund --loglevel=error >&2) || say "npm ci failed: the Node row will say so"
else
  say "no npm: the Node row will say so"
fi
say "pip install (bench/.venv)"
{ [ -x bench/.venv/bin/python ] || python3 -m venv bench/.venv; } &&
  bench/.venv/bin/pip install -q --disable-pip-version-check -r bench/python/requirements.txt >&2 ||
  say "pip install failed: the Python row will say so"

# 3. The binaries: the action, the baseline client and the emulator, all with the release profile.
say "cargo build --release"
cargo build --release --locked -p azure-oidc-token --bin azure-oidc-token >&2
cargo build --release --locked -p azure-oidc-bench-baseline >&2
cargo build --release --locked -p azure-oidc-emulator --example serve >&2
action=target/release/azure-oidc-token

# 4. Figures besides the timings.
facts=()
bytes=$(wc -c <"$action")
facts+=("--fact" "release binary (target/release/azure-oidc-token, stripped)=$bytes bytes ($(awk "BEGIN{printf \"%.2f\", $bytes/1048576}") MiB)")
if command -v podman >/dev/null && podman image exists "$image" 2>/dev/null; then
  size=$(podman image inspect --format '{{.Size}}' "$image")
  facts+=("--fact" "runtime image ($image)=$size bytes ($(awk "BEGIN{printf \"%.2f\", $size/1048576}") MiB)")
else
  facts+=("--fact" "runtime image=n/a (see container test: cargo test --test container builds $image)")
fi
lines=$(cargo tree --locked -p azure-oidc-token --edges normal --prefix none | sort -u | wc -l)
crates=$(cargo tree --locked -p azure-oidc-token --edges normal --prefix none | sed 's/ (\*)$//' | sort -u | wc -l)
facts+=("--fact" "dependencies (cargo tree -p azure-oidc-token --edges normal --prefix none | sort -u | wc -l)=$lines lines; $crates distinct crates with the root, once (*) marks are stripped")
if [ "$cold_build" = yes ]; then
  say "cold cargo build --release --locked -p azure-oidc-token (fresh target dir)"
  cold=$(mktemp -d)
  /usr/bin/time -f '%e %U %S' -o "$cold.time" env CARGO_TARGET_DIR="$cold" \
    cargo build --release --locked -p azure-oidc-token --bin azure-oidc-token >&2 2>/dev/null
  read -r wall user sys <"$cold.time"
  rm -rf "$cold" "$cold.time"
  facts+=("--fact" "cold cargo build --release --locked -p azure-oidc-token, $(nproc) cores=${wall} s wall, $(awk "BEGIN{printf \"%.0f\", $user+$sys}") s CPU (crates already downloaded)")
else
  facts+=("--fact" "cold release build=not measured (run without --quick / --no-cold-build)")
fi

# 5. The interleaved run.
say "benchmark: $warmup warm-up + $rounds timed + $rss_rounds RSS rounds"
python3 bench/harness.py \
  --serve target/release/examples/serve \
  --action "$action" \
  --baseline target/release/azure-oidc-bench-baseline \
  --python bench/.venv/bin/python \
  --warmup "$warmup" --rounds "$rounds" --rss-rounds "$rss_rounds" \
  "${facts[@]}"

# 6. The token service (`serve`): a cold request costs exactly the exchange's two round trips, then
# 10,000 cached requests on loopback (p50/p99), its RSS over them, and SIGTERM (bench/service.py).
say "token service: 1 cold + ${SERVICE_REQUESTS:-10000} cached requests"
python3 bench/service.py --serve target/release/examples/serve --action "$action" --requests "${SERVICE_REQUESTS:-10000}"
