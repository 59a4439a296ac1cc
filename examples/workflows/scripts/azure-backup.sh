# shellcheck shell=bash
# Helpers shared by backup-now.sh and restore-drill.sh (sourced, not run). Every Azure call fails the
# step when Azure says no, with one `::error` line naming the call, Azure's error and the fix; an
# operation is followed to the Backup job it starts (`properties.jobId`), and the job to its end.
#
# Environment:
#   TOKEN               ARM access token (the action's `access-token` output). Never printed.
#   VAULT_ID            the Recovery Services vault's ARM ID: /subscriptions/…/providers/Microsoft.RecoveryServices/vaults/NAME
#   ITEM                the protected item's path inside the vault:
#                       backupFabrics/Azure/protectionContainers/…/protectedItems/…
#   ARM_ENDPOINT        default https://management.azure.com (https://management.usgovcloudapi.net, …)
#   BACKUP_API_VERSION  default 2025-08-01
#   WAIT_MINUTES        how long to follow the job, default 45 (the token lasts 60 to 90 minutes)
#   POLL_SECONDS        pause between polls, default 20
set -euo pipefail
shopt -s inherit_errexit

ARM_ENDPOINT=${ARM_ENDPOINT:-https://management.azure.com}
ARM_ENDPOINT=${ARM_ENDPOINT%/}
BACKUP_API_VERSION=${BACKUP_API_VERSION:-2025-08-01}
WAIT_MINUTES=${WAIT_MINUTES:-45}
POLL_SECONDS=${POLL_SECONDS:-20}
API="api-version=$BACKUP_API_VERSION"
DEADLINE=$(($(date +%s) + WAIT_MINUTES * 60))

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# fail MESSAGE: one error annotation (escaped as the runner expects), then exit 1.
fail() {
  local message=$*
  message=${message//'%'/'%25'}
  message=${message//$'\r'/'%0D'}
  message=${message//$'\n'/'%0A'}
  echo "::error title=azure-backup::$message"
  exit 1
}

need() {
  local name
  for name in "$@"; do
    [ -n "${!name:-}" ] || fail "environment variable $name is empty: set it in the step's env: (see the comments at the top of $(basename "$0"))"
  done
}
need TOKEN

# arm METHOD URL WHAT ROLE [JSON]: calls ARM (URL absolute, or a path on ARM_ENDPOINT); the answer's
# body is left in $WORK/body and its headers in $WORK/headers. curl retries 429 and 5xx itself,
# honouring Retry-After. Any other failure ends the script, naming WHAT and, for 403, the ROLE needed.
arm() {
  local method=$1 url=$2 what=$3 role=$4 data=${5-} code
  case $url in https://*) ;; *) url=$ARM_ENDPOINT$url ;; esac
  local args=(--silent --show-error --fail-with-body --retry 5 --retry-max-time 300
    --connect-timeout 30 --max-time 120 --request "$method"
    --header "Authorization: Bearer $TOKEN" --dump-header "$WORK/headers"
    --output "$WORK/body" --write-out '%{http_code}')
  if [ -n "$data" ]; then
    args+=(--header "Content-Type: application/json" --data "$data")
  fi
  : >"$WORK/body"
  if code=$(curl "${args[@]}" "$url"); then
    return 0
  fi
  local where="$method ${url%%\?*}" error hint
  if [ "${code:-000}" = 000 ]; then
    fail "$what: $where failed before any HTTP answer (see curl's message above): check ARM_ENDPOINT and the runner's network"
  fi
  error=$(jq -r '[.error.code, .error.message] | map(select(. != null)) | join(": ")' "$WORK/body" 2>/dev/null || true)
  case $code in
    401) hint="ARM refused the token: pass this job's fresh access-token output in TOKEN (ARM scope, 60 to 90 minutes valid)" ;;
    403) hint="give the identity $role (role assignments take a few minutes to apply)" ;;
    404) hint="no such resource: check the IDs in the step's env (VAULT_ID, ITEM: the protected item's path inside the vault)" ;;
    429) hint="ARM still throttled after retries: run again later" ;;
    *) hint="see Azure's message" ;;
  esac
  fail "$what: $where answered HTTP $code${error:+ ($error)}: $hint"
}

# set_output NAME VALUE: a step output, when running as a workflow step.
set_output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    echo "$1=$2" >>"$GITHUB_OUTPUT"
  fi
}

# follow_operation WHAT: follows the Azure-AsyncOperation URL of the 202 in $WORK/headers until it
# names the Backup job it started; sets JOB_ID. "Succeeded" here only means the job was created.
follow_operation() {
  local what=$1 poll status
  poll=$(awk '{ sub(/\r$/, "") } tolower($1) == "azure-asyncoperation:" { v = $2 } END { print v }' "$WORK/headers")
  [ -n "$poll" ] || fail "$what: the 202 answer had no Azure-AsyncOperation header, so there is nothing to follow"
  while :; do
    arm GET "$poll" "$what (operation status)" "Backup Operator on the vault"
    status=$(jq -r '.status // empty' "$WORK/body")
    case $status in
      Succeeded)
        JOB_ID=$(jq -r '.properties.jobId // empty' "$WORK/body")
        [ -n "$JOB_ID" ] || fail "$what: the operation succeeded but named no properties.jobId to follow"
        return 0
        ;;
      InProgress) ;;
      *) fail "$what: the operation ended ${status:-without a status}: $(jq -c '.error // {}' "$WORK/body")" ;;
    esac
    [ "$(date +%s)" -lt "$DEADLINE" ] || fail "$what: the operation was still InProgress after $WAIT_MINUTES minutes"
    sleep "$POLL_SECONDS"
  done
}

# wait_for_job JOB_ID WHAT: polls GET {vault}/backupJobs/{JOB_ID} until Completed or
# CompletedWithWarnings (exit 0) or Failed / Cancelled / WAIT_MINUTES (fail).
wait_for_job() {
  local job=$1 what=$2 status details
  while :; do
    arm GET "$VAULT_ID/backupJobs/$job?$API" "$what job $job" "Backup Operator on the vault"
    status=$(jq -r '.properties.status // empty' "$WORK/body")
    case $status in
      Completed)
        echo "$what job $job: Completed"
        return 0
        ;;
      CompletedWithWarnings)
        echo "::warning title=azure-backup::$what job $job: CompletedWithWarnings (see the job in the vault)"
        return 0
        ;;
      Failed | Cancelled)
        details=$(jq -r '[.properties.errorDetails[]? | [.errorString, (.recommendations // [] | join(" "))] | map(select(. != null and . != "")) | join(" ")] | join("; ")' "$WORK/body")
        fail "$what job $job ended $status${details:+: $details}"
        ;;
      *) echo "$what job $job: ${status:-no status yet}" ;;
    esac
    [ "$(date +%s)" -lt "$DEADLINE" ] || fail "$what job $job was still ${status:-running} after $WAIT_MINUTES minutes; it goes on in Azure: follow it in the vault's Backup jobs, or raise WAIT_MINUTES (and get a fresh token first if it exceeds the token's lifetime)"
    sleep "$POLL_SECONDS"
  done
}
