# shellcheck shell=bash
# Helpers shared by backup-now.sh, restore-drill.sh and disk-restore-drill.sh (sourced, not run).
# Every Azure call fails the step when Azure says no, with one `::error` line naming the call, Azure's
# error and the fix; an operation is followed to the Backup job it starts, and the job to its end.
#
# Environment:
#   TOKEN               ARM access token (the action's `access-token` output). Never printed, and never
#                       on a command line: curl reads the header from a file in a private directory.
#   VAULT_ID            the vault's ARM ID (Recovery Services or Backup vault)
#   ARM_ENDPOINT        default https://management.azure.com (https://management.usgovcloudapi.net, …)
#   BACKUP_API_VERSION  Recovery Services api-version, default 2025-08-01
#   WAIT_MINUTES        how long to follow the job, default 45 (the token lasts 60 to 90 minutes)
#   POLL_SECONDS        pause between polls, default 20
set -euo pipefail
shopt -s inherit_errexit

# fail MESSAGE: one error annotation (escaped as the runner expects), then exit 1.
fail() {
  local message
  message=$(clean "$*" 2000)
  echo "::error title=azure-backup::${message//'%'/'%25'}"
  exit 1
}

# clean TEXT [MAX]: TEXT as one inert log line: control characters (newlines, ESC, …) become spaces,
# the runner's legacy command marker `##[` is broken up, and the result is cut to MAX characters
# (default 300). Every piece of server text goes through it before it reaches the log.
clean() {
  local text=$1 max=${2:-300}
  text=${text//[[:cntrl:]]/ }
  text=${text//'##['/'#-#['}
  if [ "${#text}" -gt "$max" ]; then
    text="${text:0:max}…"
  fi
  printf '%s' "$text"
}

ARM_ENDPOINT=${ARM_ENDPOINT:-https://management.azure.com}
ARM_ENDPOINT=${ARM_ENDPOINT%/}
case $ARM_ENDPOINT in
  https://*) ;;
  *) fail "ARM_ENDPOINT must start with https:// (got '$ARM_ENDPOINT')" ;;
esac
# The scheme and host of ARM: the only place the token is sent, and the only place a nextLink or an
# operation URL may point to.
ARM_ORIGIN=$(printf '%s' "$ARM_ENDPOINT" | sed -E 's#^(https://[^/?#]+).*#\1#')
BACKUP_API_VERSION=${BACKUP_API_VERSION:-2025-08-01}
[[ $BACKUP_API_VERSION =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$ ]] || fail "BACKUP_API_VERSION must look like 2025-08-01 (got '$(clean "$BACKUP_API_VERSION" 40)')"
# shellcheck disable=SC2034 # used by the scripts that source this one
API="api-version=$BACKUP_API_VERSION"
WAIT_MINUTES=${WAIT_MINUTES:-45}
POLL_SECONDS=${POLL_SECONDS:-20}
# Validated as digits before any arithmetic: bash evaluates `$((…))` operands as expressions, so a
# value like `HOME[$(cmd)]` would run cmd.
[[ $WAIT_MINUTES =~ ^[0-9]{1,4}$ ]] || fail "WAIT_MINUTES must be a whole number of minutes (0 to 9999): set it in the step's env:"
[[ $POLL_SECONDS =~ ^[0-9]{1,4}$ ]] || fail "POLL_SECONDS must be a whole number of seconds (0 to 9999): set it in the step's env:"
DEADLINE=$(($(date +%s) + 10#$WAIT_MINUTES * 60))

need() {
  local name
  for name in "$@"; do
    [ -n "${!name:-}" ] || fail "environment variable $name is empty: set it in the step's env: (see the comments at the top of $(basename "$0"))"
  done
}
need TOKEN
case $TOKEN in
  *[[:space:][:cntrl:]]*) fail "TOKEN holds whitespace or control characters: pass the action's access-token output as it is" ;;
esac

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# The header lives in a file only this user can read (mktemp -d is 0700); printf is a builtin, so the
# token is never in any process's argument list (/proc/PID/cmdline).
printf 'Authorization: Bearer %s\n' "$TOKEN" >"$WORK/auth"

# on_arm URL: whether URL is https on ARM's own host (nothing else gets the token).
on_arm() {
  case $1 in
    "$ARM_ORIGIN"/*) return 0 ;;
    *) return 1 ;;
  esac
}

# arm METHOD URL WHAT ROLE [JSON]: calls ARM (URL absolute on ARM's host, or a path on ARM_ENDPOINT);
# the answer's body is left in $WORK/body, its headers in $WORK/headers, its status in $CODE. GETs
# and DELETEs are retried by curl on 429 and 5xx (honouring Retry-After). A POST that starts a job is
# never resent blindly: only a 429 (ARM throttled it, so nothing started) is sent again after
# Retry-After; a 5xx or a lost answer fails, because the job may have started. A status listed in
# ALLOW_STATUS (e.g. ALLOW_STATUS=404) returns to the caller. Any other failure ends the script,
# naming WHAT and, for 403, ROLE.
arm() {
  local method=$1 url=$2 what=$3 role=$4 data=${5-} attempt=0 wait
  case $url in
    https://*) ;;
    /*) url=$ARM_ENDPOINT$url ;;
    *) fail "$what: '$(clean "$url" 200)' is not an ARM path or URL" ;;
  esac
  on_arm "$url" || fail "$what: refusing to send the token to '$(clean "${url%%\?*}" 200)': only $ARM_ORIGIN gets it"
  local args=(--silent --show-error --fail-with-body --proto "=https"
    --connect-timeout 30 --max-time 120 --request "$method"
    --header @"$WORK/auth" --dump-header "$WORK/headers"
    --output "$WORK/body" --write-out '%{http_code}')
  if [ "$method" != POST ]; then
    args+=(--retry 5 --retry-max-time 300)
  fi
  if [ -n "$data" ]; then
    args+=(--header "Content-Type: application/json" --data "$data")
  fi
  local rc
  while :; do
    : >"$WORK/body"
    : >"$WORK/headers"
    rc=0
    CODE=$(curl "${args[@]}" "$url") || rc=$?
    if [ "$rc" = 0 ]; then
      if [ -s "$WORK/body" ] && ! jq empty "$WORK/body" 2>/dev/null; then
        fail "$what: $method $(clean "${url%%\?*}" 300) answered HTTP $CODE with a body that is not JSON"
      fi
      return 0
    fi
    CODE=${CODE:-000}
    if [ "$method" = POST ] && [ "$CODE" = 429 ] && [ "$attempt" -lt 5 ]; then
      attempt=$((attempt + 1))
      wait=$(header retry-after)
      [[ $wait =~ ^[0-9]{1,3}$ ]] || wait=10
      echo "$what: ARM throttled the request (HTTP 429); sending it again in $wait s (a throttled request starts nothing)"
      sleep "$wait"
      continue
    fi
    break
  done
  case " ${ALLOW_STATUS:-} " in
    *" $CODE "*) return 0 ;;
  esac
  local where error hint sent
  where="$method $(clean "${url%%\?*}" 300)"
  if [ "$CODE" = 000 ]; then
    # curl's exit codes for a request that was never sent: no name, no connection, no TLS.
    case $rc in
      6 | 7 | 35 | 51 | 58 | 59 | 60 | 77 | 83) sent=no ;;
      *) sent=maybe ;;
    esac
    if [ "$method" = POST ] && [ "$sent" = maybe ]; then
      fail "$what: $where got no HTTP answer (see curl's message above); it may still have started a job, so it is not sent again: look at the vault's Backup jobs before running this again"
    fi
    fail "$what: $where failed before any HTTP answer (see curl's message above): check ARM_ENDPOINT and the runner's network"
  fi
  error=$(jq -r '[.error.code, .error.message] | map(select(. != null)) | join(": ")' "$WORK/body" 2>/dev/null || true)
  error=$(clean "$error" 500)
  case $CODE in
    400) hint="ARM refused the request: see Azure's message (an InvalidApiVersionParameter or NoRegisteredProviderFound names the api-versions it supports)" ;;
    401) hint="ARM refused the token: pass this job's fresh access-token output in TOKEN (ARM scope, 60 to 90 minutes valid)" ;;
    403) hint="give the identity $role (role assignments take a few minutes to apply)" ;;
    404) hint="no such resource: check the IDs in the step's env" ;;
    409) hint="another operation on this item is in progress: wait for it (see the vault's Backup jobs), then run again" ;;
    429) hint="ARM still throttled after retries: run again later" ;;
    5*) if [ "$method" = POST ]; then
      hint="not sent again, because it may have started a job: look at the vault's Backup jobs before running this again"
    else
      hint="Azure kept failing after retries: run again later"
    fi ;;
    *) hint="see Azure's message" ;;
  esac
  fail "$what: $where answered HTTP $CODE${error:+ ($error)}: $hint"
}

# header NAME: the last value of header NAME (lower-case) in $WORK/headers, or nothing.
header() {
  awk -v name="$1:" '{ sub(/\r$/, "") } tolower($1) == name { v = $2 } END { print v }' "$WORK/headers"
}

# arm_list URL WHAT ROLE OUT: GETs a list and every further page (`nextLink`), writing all items
# (`.value`) as one JSON array to OUT. A nextLink is followed only to https on ARM's host.
arm_list() {
  local url=$1 what=$2 role=$3 out=$4 pages=0 next
  echo '[]' >"$out"
  while [ -n "$url" ]; do
    pages=$((pages + 1))
    [ "$pages" -le 200 ] || fail "$what: more than 200 pages: stopping"
    arm GET "$url" "$what" "$role"
    jq -s '.[0] + (.[1].value // [])' "$out" "$WORK/body" >"$out.next" ||
      fail "$what: a page had no list of items (value)"
    mv "$out.next" "$out"
    next=$(jq -r '.nextLink // empty' "$WORK/body")
    if [ -n "$next" ] && ! on_arm "$next"; then
      fail "$what: the nextLink '$(clean "${next%%\?*}" 200)' is not on $ARM_ORIGIN: not following it with the token"
    fi
    url=$next
  done
}

# set_output NAME VALUE: a step output, when running as a workflow step (VALUE is checked by the caller).
set_output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    echo "$1=$2" >>"$GITHUB_OUTPUT"
  fi
}

# past_deadline: whether WAIT_MINUTES have passed since the script started.
past_deadline() {
  [ "$(date +%s)" -ge "$DEADLINE" ]
}

# async_url: the Azure-AsyncOperation URL of the 202 in $WORK/headers (checked to be on ARM's host).
async_url() {
  local what=$1 poll
  poll=$(header azure-asyncoperation)
  [ -n "$poll" ] || fail "$what: the 202 answer had no Azure-AsyncOperation header, so there is nothing to follow"
  on_arm "$poll" || fail "$what: the Azure-AsyncOperation URL is not on $ARM_ORIGIN: not following it with the token"
  printf '%s' "$poll"
}

# follow_async WHAT ROLE: follows the Azure-AsyncOperation URL of the 202 in $WORK/headers until
# `status` is Succeeded (returns, the last answer in $WORK/body), or Failed / Canceled (fails, with
# the operation's error), or WAIT_MINUTES pass (fails).
follow_async() {
  local what=$1 role=$2 poll status
  poll=$(async_url "$what")
  while :; do
    arm GET "$poll" "$what (operation status)" "$role"
    status=$(jq -r '.status // empty' "$WORK/body")
    case $status in
      Succeeded) return 0 ;;
      InProgress | Running | Accepted | NotStarted) ;;
      Failed | Canceled | Cancelled)
        fail "$what: the operation ended $status: $(clean "$(jq -r '[.error.code, .error.message] | map(select(. != null)) | join(": ")' "$WORK/body")" 500)"
        ;;
      *) fail "$what: the operation answered the unknown status '$(clean "$status" 60)'" ;;
    esac
    past_deadline && fail "$what: the operation was still $(clean "$status" 60) after $WAIT_MINUTES minutes"
    sleep "$POLL_SECONDS"
  done
}

# follow_operation WHAT: follows a Backup trigger's operation until it names the Backup job it
# started; sets JOB_ID. "Succeeded" here only means the job was created.
follow_operation() {
  local what=$1
  follow_async "$what" "Backup Operator on the vault"
  JOB_ID=$(jq -r '.properties.jobId // empty' "$WORK/body")
  [ -n "$JOB_ID" ] || fail "$what: the operation succeeded but named no properties.jobId to follow"
  [[ $JOB_ID =~ ^[A-Za-z0-9-]{1,100}$ ]] || fail "$what: the operation named a job ID that is not one: '$(clean "$JOB_ID" 100)'"
}

# wait_for_job JOB_ID WHAT: polls GET {vault}/backupJobs/{JOB_ID} (api-version JOB_API_VERSION, default
# BACKUP_API_VERSION; the same path in Recovery Services and Backup vaults) until it ends; sets JOB_STATUS to
# Completed or CompletedWithWarnings (JOB_DETAILS: the warnings) and returns. Failed or Cancelled
# fail the step with the job's error details, unless JOB_END_RETURNS=1 (the caller cleans up first
# and then fails); WAIT_MINUTES passing fails it.
wait_for_job() {
  local job=$1 what=$2 status
  while :; do
    arm GET "$VAULT_ID/backupJobs/$job?api-version=${JOB_API_VERSION:-$BACKUP_API_VERSION}" "$what job $job" "Backup Operator on the vault"
    status=$(jq -r '.properties.status // empty' "$WORK/body")
    JOB_DETAILS=$(clean "$(jq -r '[.properties.errorDetails[]? | [.code, .errorString // .message, (.recommendations // [] | join(" "))] | map(select(. != null and . != "")) | join(" ")] | join("; ")' "$WORK/body")" 800)
    case $status in
      Completed | CompletedWithWarnings)
        # shellcheck disable=SC2034 # read by the callers
        JOB_STATUS=$status
        echo "$what job $job: $status"
        return 0
        ;;
      Failed | Cancelled)
        # shellcheck disable=SC2034 # read by the callers
        JOB_STATUS=$status
        [ "${JOB_END_RETURNS:-0}" = 1 ] && return 0
        fail "$what job $job ended $status${JOB_DETAILS:+: $JOB_DETAILS}"
        ;;
      InProgress | NotStarted | Cancelling) echo "$what job $job: $status" ;;
      "") fail "$what job $job: the answer had no properties.status" ;;
      *) fail "$what job $job: unknown status '$(clean "$status" 60)'" ;;
    esac
    past_deadline && fail "$what job $job was still $status after $WAIT_MINUTES minutes; it goes on in Azure: follow it in the vault's Backup jobs, or raise WAIT_MINUTES (and get a fresh token first if it exceeds the token's lifetime)"
    sleep "$POLL_SECONDS"
  done
}
