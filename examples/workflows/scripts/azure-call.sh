# shellcheck shell=bash
# Sourced by the recipe scripts next to it (not run). One function, azure_get, that calls an Azure
# REST API with the token in TOKEN and fails the step when Azure says no: one `::error` line naming
# the call, the HTTP status, Azure's error code and message, and what to fix. The token never reaches
# a command line, the log or an error message; URLs are printed without their query.
#
# GitHub runs `run:` with `bash -e` and without pipefail; this file sets `-euo pipefail` itself.
set -euo pipefail
shopt -s inherit_errexit

# fail MESSAGE: one error annotation (escaped as the runner expects), then exit 1.
fail() {
  local message=$*
  message=${message//'%'/'%25'}
  message=${message//$'\r'/'%0D'}
  message=${message//$'\n'/'%0A'}
  echo "::error title=${RECIPE:-azure}::$message"
  exit 1
}

# need NAME...: fails unless each variable is set and not empty.
need() {
  local name
  for name in "$@"; do
    [ -n "${!name:-}" ] || fail "environment variable $name is empty: set it in the step's env:"
  done
}

# same_origin FIRST NEXT: succeeds when NEXT is an https:// URL on the host (and port) of FIRST, the
# only place a paging link (nextLink) may send the token. `https://host` and `https://host:443` are
# the same origin; anything else (http://, another host, `host.evil`, `host@evil`) is not.
same_origin() {
  local first=$1 next=$2 authority
  case $first in https://*) ;; *) return 1 ;; esac
  authority=${first#https://}
  authority=${authority%%[/?#]*}
  authority=${authority%:443}
  case $next in
    "https://$authority/"* | "https://$authority:443/"*) return 0 ;;
    *) return 1 ;;
  esac
}

# azure_get WHAT URL OUT HINT_403 HINT_404: GET URL into the file OUT. curl retries 429 and 5xx
# itself (honouring Retry-After); any other failure ends the script.
azure_get() {
  local what=$1 url=$2 out=$3 hint403=$4 hint404=$5 code error hint
  need TOKEN
  # The header comes from stdin (printf is a shell builtin), so the token is in no process's argv.
  if code=$(printf 'Authorization: Bearer %s\n' "$TOKEN" |
    curl --silent --show-error --fail-with-body --retry 3 --connect-timeout 30 --max-time 120 \
      --header @- --output "$out" --write-out '%{http_code}' "$url"); then
    return 0
  fi
  if [ "${code:-000}" = 000 ]; then
    fail "$what: GET ${url%%\?*} failed before any HTTP answer (see curl's message above): check the endpoint and the runner's network"
  fi
  error=$(jq -r '[.error.code, .error.innererror.code, .error.message] | map(select(. != null)) | join(": ")' "$out" 2>/dev/null || true)
  case $code in
    401) hint="the service refused the token: pass the access-token output for this service's scope, from this job, in TOKEN" ;;
    403) hint=$hint403 ;;
    404) hint=$hint404 ;;
    *) hint="see Azure's message" ;;
  esac
  fail "$what: GET ${url%%\?*} answered HTTP $code${error:+ ($error)}: $hint"
}
