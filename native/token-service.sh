#!/usr/bin/env bash
# The native action's token service (token-service: true), run by install.sh after the exchange
# worked: start `azure-oidc-token serve` detached, so that it outlives this step (the runner ends
# it with the job), wait until it listens, then give later steps IDENTITY_ENDPOINT and
# IDENTITY_HEADER through GITHUB_ENV, the header masked first.
#
# Usage: token-service.sh BINARY (the binary install.sh verified and ran). Reads the step's INPUT_*
# variables (printenv: bash cannot expand names with hyphens), RUNNER_TEMP and GITHUB_ENV.
set -euo pipefail

binary=$1
fail() {
  local message=$1
  message=${message//'%'/'%25'}
  message=${message//$'\r'/'%0D'}
  message=${message//$'\n'/'%0A'}
  printf '::error title=azure-oidc-token::%s\n' "native action: token service: $message"
  exit 1
}
input() {
  local value
  value=$(printenv "INPUT_$1" || true)
  value=${value#"${value%%[![:space:]]*}"}
  printf '%s' "${value%"${value##*[![:space:]]}"}"
}
[ -n "${GITHUB_ENV:-}" ] || fail "GITHUB_ENV is not set: run this as a GitHub Actions step."

# Its own directory under RUNNER_TEMP (kept for the whole job), with its own copy of the binary.
dir=$(mktemp -d "${RUNNER_TEMP:-/tmp}/azure-oidc-token-service.XXXXXX")
service_binary="$dir/$(basename "$binary")"
cp "$binary" "$service_binary"
env_file="$dir/env"
log="$dir/serve.log"
: >"$env_file"

# The identity options of this step, as flags (empty inputs fall back to AZURE_* in the binary too).
args=(serve --env-file "$env_file")
# (allow-events: the risky-event guard's input, passed on wherever action.yml declares it.)
for pair in client-id:CLIENT-ID tenant-id:TENANT-ID environment:ENVIRONMENT audience:AUDIENCE \
  authority-host:AUTHORITY-HOST timeout-seconds:TIMEOUT-SECONDS allow-events:ALLOW-EVENTS; do
  value=$(input "${pair#*:}")
  if [ -n "$value" ]; then args+=("--${pair%%:*}" "$value"); fi
done
while IFS= read -r scope || [ -n "$scope" ]; do
  scope=${scope#"${scope%%[![:space:]]*}"}
  scope=${scope%"${scope##*[![:space:]]}"}
  if [ -n "$scope" ]; then args+=(--allow-scope "$scope"); fi
done < <(input TOKEN-SERVICE-SCOPES | tr ',' '\n')

# Detached: its own session where setsid exists, no stdin, stdout discarded, its log (no secret is
# ever logged) in the directory, and no GITHUB_ACTIONS, so that it prints no ::add-mask:: lines
# that nobody would read: the mask for later steps is printed below, in this step's log.
launcher=(nohup)
if command -v setsid >/dev/null 2>&1; then launcher=(setsid); fi
env -u GITHUB_ACTIONS "${launcher[@]}" "$service_binary" "${args[@]}" </dev/null >/dev/null 2>"$log" &
pid=$!
printf '%s\n' "$pid" >"$dir/serve.pid"

# It logs "listening on" once the env lines are written (in one write). Generous: a busy runner.
for _ in $(seq 1 600); do
  if grep -q 'listening on' "$log" 2>/dev/null; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    fail "it stopped before listening: $(tail -n 5 "$log")"
  fi
  sleep 0.1
done
grep -q 'listening on' "$log" || fail "it did not start listening within 60 s; its log: $log"

header=$(awk 'take { print; exit } /^IDENTITY_HEADER<</ { take = 1 }' "$env_file")
[ -n "$header" ] || fail "it wrote no IDENTITY_HEADER to $env_file"
printf '::add-mask::%s\n' "$header"
cat "$env_file" >>"$GITHUB_ENV"
rm -f "$env_file"
endpoint=$(grep -o 'listening on [^ ]*' "$log" | head -n 1)
echo "azure-oidc-token (native): token service $endpoint (pid $pid, log $log); later steps get IDENTITY_ENDPOINT and IDENTITY_HEADER"
