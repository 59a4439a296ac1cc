#!/usr/bin/env bash
# The native action's one step (native/action.yml): pick the release binary for this runner, download
# it, check it against the SHA-256 pinned in native/action.yml, and only then run it, with the INPUT_*
# environment the step was given. Nothing is run unless the checksum matches.
#
# Environment (set by native/action.yml):
#   AZURE_OIDC_TOKEN_RELEASE_URL        https://github.com/<owner>/<repo>/releases/download/<tag>
#   AZURE_OIDC_TOKEN_SHA256_<OS>_<ARCH> the pinned checksum of each asset (LINUX_X64, MACOS_ARM64, ...)
#   INPUT_<NAME>                        the inputs, as the container action gets them
# and by the runner: RUNNER_OS (Linux, macOS, Windows), RUNNER_ARCH (X64, ARM64, ...), RUNNER_TEMP.
# The release URL only says where the bytes come from (tests point it at a local server; a workflow's
# own env cannot, since a step's env wins): whatever is served, only the pinned SHA-256 lets it run.
#
# Needs bash, curl and one of sha256sum / shasum / certutil: all present on GitHub's hosted runners
# (Git Bash on Windows).
set -euo pipefail

# Largest asset accepted: the release binary is a few MB; this leaves room and stops a runaway download.
max_bytes=$((32 * 1024 * 1024))

# One ::error line (workflow-command escaping of the data), then exit 1. Every failure goes through here,
# before anything is run.
fail() {
  local message=$1
  message=${message//'%'/'%25'}
  message=${message//$'\r'/'%0D'}
  message=${message//$'\n'/'%0A'}
  printf '::error title=azure-oidc-token::%s\n' "native action: $message"
  exit 1
}

# The binary reads INPUT_CLIENT-ID and the like. bash passes such names (not valid shell identifiers) on
# to the programs it starts; some shells drop them. Check that they arrive rather than run without inputs.
# Not `env | grep -q`: under pipefail, once grep has its match and exits, env (still writing a large
# environment, as on hosted runners) dies of SIGPIPE and the pipeline fails. grep reads env's output
# through a process substitution instead, whose status does not count.
if ! grep -q '^INPUT_TIMEOUT-SECONDS=' < <(env); then
  fail "the inputs did not reach the installer: a shell on the way dropped the variables named like INPUT_TIMEOUT-SECONDS (not valid shell identifiers), so the binary would run without its inputs. Start this script from GNU bash (shell: bash), which passes such names on, or use the container action."
fi

if [ -n "${INPUT_SCOPES:-}" ]; then
  fail "the scopes input is not supported by the native action: its outputs (<name>-access-token) are named at run time, and a composite action hands on only the outputs it declares. Use one step per resource with the scope input, or the container action."
fi

release_url=${AZURE_OIDC_TOKEN_RELEASE_URL:-}
if [ -z "$release_url" ] || [ "$release_url" = unreleased ]; then
  fail "this ref of native/action.yml is not a release, so no binary checksum is pinned in it and nothing is downloaded. Use a release tag (e.g. uses: <owner>/<repo>/native@v1) or the commit SHA of a release."
fi
case "$release_url" in
  https://*) ;;
  *) fail "AZURE_OIDC_TOKEN_RELEASE_URL must be an https:// URL (got '$release_url')." ;;
esac

# The asset for this runner: as release.yml names them. The runner sets RUNNER_OS and RUNNER_ARCH;
# run by hand outside a runner, uname says the same in its own words.
os=${RUNNER_OS:-}
platform="RUNNER_OS=${RUNNER_OS:-} RUNNER_ARCH=${RUNNER_ARCH:-}"
if [ -z "$os" ]; then
  os=$(uname -s 2>/dev/null || true)
  case "$os" in
    Linux) os=Linux ;;
    Darwin) os=macOS ;;
    MINGW* | MSYS* | CYGWIN*) os=Windows ;;
  esac
fi
arch=${RUNNER_ARCH:-}
if [ -z "$arch" ]; then
  arch=$(uname -m 2>/dev/null || true)
  case "$arch" in
    x86_64 | amd64) arch=X64 ;;
    aarch64 | arm64) arch=ARM64 ;;
  esac
fi
if [ -z "${RUNNER_OS:-}" ] || [ -z "${RUNNER_ARCH:-}" ]; then
  platform="$platform (uname: $(uname -s 2>/dev/null || true) $(uname -m 2>/dev/null || true))"
fi
case "$os/$arch" in
  Linux/X64) key=LINUX_X64 asset=azure-oidc-token-linux-x64 ;;
  Linux/ARM64) key=LINUX_ARM64 asset=azure-oidc-token-linux-arm64 ;;
  macOS/X64) key=MACOS_X64 asset=azure-oidc-token-macos-x64 ;;
  macOS/ARM64) key=MACOS_ARM64 asset=azure-oidc-token-macos-arm64 ;;
  Windows/X64) key=WINDOWS_X64 asset=azure-oidc-token-windows-x64.exe ;;
  *)
    fail "no release binary for $platform. Binaries exist for Linux X64/ARM64, macOS X64/ARM64 and Windows X64; elsewhere use the container action (Linux with Docker)."
    ;;
esac
pinned_var=AZURE_OIDC_TOKEN_SHA256_$key
pinned=${!pinned_var:-}
if ! [[ "$pinned" =~ ^[0-9a-f]{64}$ ]]; then
  fail "no SHA-256 is pinned for $asset in native/action.yml ($pinned_var='$pinned'), so it is not downloaded. Use a release tag of the action, whose release commit pins it."
fi

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  elif command -v certutil >/dev/null 2>&1; then
    # Windows without Git's coreutils: the hash is the second line of certutil's output.
    certutil -hashfile "$(cygpath -w "$1" 2>/dev/null || printf '%s' "$1")" SHA256 | sed -n '2p' | tr -d ' \r'
  else
    return 1
  fi
}

temp_root=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
# Git Bash on Windows: RUNNER_TEMP is a Windows path (D:\a\_temp); use its POSIX form.
if command -v cygpath >/dev/null 2>&1; then temp_root=$(cygpath -u "$temp_root"); fi
work=$(mktemp -d "$temp_root/azure-oidc-token.XXXXXXXX")
trap 'rm -rf "$work"' EXIT
download=$work/download
url=${release_url%/}/$asset
host=${release_url#https://}
host=${host%%/*}

# HTTPS only, redirects included (GitHub answers release downloads with a redirect to its object
# store), TLS 1.2 or later, bounded in size and time, retried on transient failures (5xx, 429, timeouts).
set +e
status=$(curl --silent --show-error --fail --location \
  --proto '=https' --proto-redir '=https' --tlsv1.2 --max-redirs 5 \
  --connect-timeout 10 --max-time 60 --retry 2 --retry-delay 2 --retry-max-time 120 \
  --max-filesize "$max_bytes" --user-agent azure-oidc-token-native-installer \
  --output "$download" --write-out '%{http_code}' "$url" 2>"$work/curl.err")
code=$?
set -e
if [ "$code" -ne 0 ]; then
  hint="Nothing was run. Re-run the job; if it keeps failing, check the runner's network access to $host."
  case "$code" in
    22)
      why="the server answered HTTP $status"
      if [ "$status" = 404 ]; then
        hint="The release has no such asset: check that the action's ref is a release tag whose release finished publishing."
      fi
      ;;
    18) why="the download was cut short (fewer bytes than announced)" ;;
    63) why="it is larger than $max_bytes bytes" ;;
    28) why="it timed out" ;;
    1)
      why="a redirect left https://"
      hint="Nothing was run. Release assets are served over https only: a proxy on the way rewrote the redirect."
      ;;
    35 | 60)
      why="the TLS connection failed or the server certificate is not trusted"
      hint="Nothing was run. Behind a TLS-inspecting proxy, add its CA to the runner's trust store (or point CURL_CA_BUNDLE at a bundle that has it)."
      ;;
    6 | 7) why="the host could not be reached" ;;
    *) why="curl exit status $code" ;;
  esac
  fail "downloading $asset from $host failed: $why. $hint"
fi

size=$(wc -c <"$download" | tr -d ' ')
if [ "$size" -gt "$max_bytes" ]; then
  fail "the download of $asset from $host is larger than $max_bytes bytes ($size); nothing was run."
fi
if ! actual=$(sha256_of "$download") || [ -z "$actual" ]; then
  fail "no SHA-256 tool found (sha256sum, shasum or certutil), so $asset cannot be checked and is not run. Install coreutils or perl's shasum on the runner."
fi
actual=$(printf '%s' "$actual" | tr 'A-F' 'a-f')
if [ "$actual" != "$pinned" ]; then
  fail "checksum mismatch for $asset from $host: expected $pinned (pinned in native/action.yml), got $actual ($size bytes). It was not run. A truncated or altered download, or a replaced release asset: re-run the job, and report it if it persists."
fi

binary=$work/$asset
mv "$download" "$binary"
chmod 0755 "$binary"
echo "azure-oidc-token (native): $asset, SHA-256 $actual verified"

# No arguments: the binary runs the action, reading the INPUT_* environment like the container does.
set +e
# AZURE_OIDC_TOKEN_NATIVE: this script starts the token service (token-service.sh below), so the binary
# accepts token-service: true, which the container action refuses.
AZURE_OIDC_TOKEN_NATIVE=true "$binary"
status=$?
set -e
# token-service: true (the binary refused anything but true/false): once the exchange above worked,
# native/token-service.sh starts the token service in the background.
if [ "$status" -eq 0 ] && [ "$(printenv 'INPUT_TOKEN-SERVICE' | tr -d '[:space:]' | tr '[:upper:]' '[:lower:]')" = true ]; then
  bash "$(dirname "${BASH_SOURCE[0]}")/token-service.sh" "$binary"
fi
exit "$status"
