#!/usr/bin/env bash
# The release commit's edit, in one place (.github/workflows/release.yml runs it; CI runs --dry-run):
#   action.yml         `  image: Dockerfile`  ->  `  image: docker://IMAGE@DIGEST`
#   native/action.yml  `AZURE_OIDC_TOKEN_RELEASE_URL: unreleased`  ->  the release's download URL
#                      `AZURE_OIDC_TOKEN_SHA256_<OS>_<ARCH>: unreleased`  ->  that asset's SHA-256
# then checks the result: every placeholder replaced, the values exactly as given, and nothing else
# changed (putting the placeholders back gives the original files byte for byte).
#
# usage: scripts/release-commit.sh [--dry-run [--out DIR]] [--root DIR] --tag vX.Y.Z
#          --image ghcr.io/OWNER/REPO --digest sha256:HEX --release-url https://.../releases/download/vX.Y.Z
#          --checksums SHA256SUMS
#   --root DIR   where action.yml and native/action.yml are (default: this repository)
#   --dry-run    write the edited files to --out DIR (default: a new temporary directory) and show the
#                diff; ROOT is left untouched and nothing is committed
#   otherwise    edit the files under ROOT in place and `git commit` them there
# SHA256SUMS is `sha256sum` output (`<64 hex>  <file>`, or `*<file>`); it must list each binary asset
# exactly once, and may list other files (SBOMs), which are ignored.
set -euo pipefail

die() {
  echo "release-commit: $*" >&2
  exit 1
}

# Asset file name -> the variable in native/action.yml that pins it. The names are release.yml's.
assets=(
  "azure-oidc-token-linux-x64:AZURE_OIDC_TOKEN_SHA256_LINUX_X64"
  "azure-oidc-token-linux-arm64:AZURE_OIDC_TOKEN_SHA256_LINUX_ARM64"
  "azure-oidc-token-macos-x64:AZURE_OIDC_TOKEN_SHA256_MACOS_X64"
  "azure-oidc-token-macos-arm64:AZURE_OIDC_TOKEN_SHA256_MACOS_ARM64"
  "azure-oidc-token-windows-x64.exe:AZURE_OIDC_TOKEN_SHA256_WINDOWS_X64"
)
# Exactly how the placeholder lines are indented in native/action.yml (the step's `env:` map).
indent='        '

dry_run=false root='' out='' tag='' image='' digest='' release_url='' checksums=''
while [ "$#" -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=true; shift; continue ;;
    --root | --out | --tag | --image | --digest | --release-url | --checksums)
      [ "$#" -ge 2 ] || die "$1 needs a value"
      case "$1" in
        --root) root=$2 ;;
        --out) out=$2 ;;
        --tag) tag=$2 ;;
        --image) image=$2 ;;
        --digest) digest=$2 ;;
        --release-url) release_url=$2 ;;
        --checksums) checksums=$2 ;;
      esac
      shift 2
      ;;
    *) die "unknown argument '$1' (see the usage at the top of $0)" ;;
  esac
done
[ -n "$root" ] || root=$(cd "$(dirname "$0")/.." && pwd)
[ -n "$out" ] && [ "$dry_run" = false ] && die "--out is only for --dry-run"

# Inputs, each refused with the reason before anything is written.
[[ "$tag" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || die "--tag must look like v1.2.3 or v1.2.3-rc.1 (got '$tag')"
[[ "$image" =~ ^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+$ ]] ||
  die "--image must be a lower-case image name without tag or digest, e.g. ghcr.io/owner/repo (got '$image')"
[[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || die "--digest must be sha256:<64 lower-case hex> (got '$digest')"
[[ "$release_url" =~ ^https://[^[:space:]\"\'#]+/releases/download/${tag//./\\.}$ ]] ||
  die "--release-url must be https://<host>/<owner>/<repo>/releases/download/$tag (got '$release_url')"
[ -f "$checksums" ] || die "--checksums: no file '$checksums'"

declare -A sums=()
line_no=0
while IFS= read -r line || [ -n "$line" ]; do
  line_no=$((line_no + 1))
  line=${line%$'\r'}
  [ -n "$line" ] || continue
  [[ "$line" =~ ^([0-9a-f]{64})\ [\ *]([^/[:space:]]+)$ ]] ||
    die "$checksums line $line_no is not '<64 lower-case hex>  <file name>': '$line'"
  name=${BASH_REMATCH[2]}
  [ -z "${sums[$name]:-}" ] || die "$checksums lists $name twice"
  sums[$name]=${BASH_REMATCH[1]}
done <"$checksums"
for entry in "${assets[@]}"; do
  name=${entry%%:*}
  [ -n "${sums[$name]:-}" ] || die "$checksums has no checksum for $name (every binary asset needs one)"
done

action=$root/action.yml
native=$root/native/action.yml
[ -f "$action" ] || die "no $action"
[ -f "$native" ] || die "no $native"

# count LINE FILE: how many lines of FILE are exactly LINE.
count() { grep -cxF -- "$1" "$2" || true; }

image_before='  image: Dockerfile'
image_after="  image: docker://$image@$digest"
[ "$(count "$image_before" "$action")" = 1 ] ||
  die "$action must contain the line '$image_before' exactly once (is it already a release commit?)"
url_before="${indent}AZURE_OIDC_TOKEN_RELEASE_URL: unreleased"
url_after="${indent}AZURE_OIDC_TOKEN_RELEASE_URL: $release_url"
[ "$(count "$url_before" "$native")" = 1 ] || die "$native must contain the line '$url_before' exactly once"
for entry in "${assets[@]}"; do
  var=${entry#*:}
  [ "$(count "${indent}$var: unreleased" "$native")" = 1 ] ||
    die "$native must contain the line '${indent}$var: unreleased' exactly once"
done
[ "$(grep -c ': unreleased$' "$native" || true)" = $((1 + ${#assets[@]})) ] ||
  die "$native has a ': unreleased' placeholder this script does not know (a new asset? add it above)"

if [ "$dry_run" = true ]; then
  [ -n "$out" ] || out=$(mktemp -d)
  mkdir -p "$out/native"
  new_action=$out/action.yml
  new_native=$out/native/action.yml
else
  new_action=$action
  new_native=$native
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$action" "$work/action.yml"
cp "$native" "$work/native.yml"

# replace FROM TO FILE: the one line equal to FROM becomes TO (awk compares whole lines, no regex).
replace() {
  awk -v from="$1" -v to="$2" '$0 == from { print to; next } { print }' "$3" >"$3.new"
  mv "$3.new" "$3"
}
replace "$image_before" "$image_after" "$work/action.yml"
replace "$url_before" "$url_after" "$work/native.yml"
for entry in "${assets[@]}"; do
  name=${entry%%:*} var=${entry#*:}
  replace "${indent}$var: unreleased" "${indent}$var: ${sums[$name]}" "$work/native.yml"
done

# Verify: the new lines are there, no placeholder is left, and undoing exactly these edits gives back
# the original files (so nothing else changed).
[ "$(count "$image_after" "$work/action.yml")" = 1 ] || die "the image line was not rewritten"
[ "$(count "$url_after" "$work/native.yml")" = 1 ] || die "the release URL line was not rewritten"
for entry in "${assets[@]}"; do
  name=${entry%%:*} var=${entry#*:}
  [ "$(count "${indent}$var: ${sums[$name]}" "$work/native.yml")" = 1 ] || die "$var was not rewritten"
done
! grep -q ': unreleased$' "$work/native.yml" || die "a placeholder is left in native/action.yml"
cp "$work/action.yml" "$work/action.undo"
cp "$work/native.yml" "$work/native.undo"
replace "$image_after" "$image_before" "$work/action.undo"
replace "$url_after" "$url_before" "$work/native.undo"
for entry in "${assets[@]}"; do
  name=${entry%%:*} var=${entry#*:}
  replace "${indent}$var: ${sums[$name]}" "${indent}$var: unreleased" "$work/native.undo"
done
cmp -s "$work/action.undo" "$action" || die "action.yml changed beyond its image line"
cmp -s "$work/native.undo" "$native" || die "native/action.yml changed beyond its pinned lines"

cp "$work/action.yml" "$new_action"
cp "$work/native.yml" "$new_native"

if [ "$dry_run" = true ]; then
  echo "release-commit (dry run): $tag, image $image@$digest; edited copies in $out"
  diff -u "$action" "$new_action" || true
  diff -u "$native" "$new_native" || true
  exit 0
fi
git -C "$root" add action.yml native/action.yml
git -C "$root" commit --quiet -m "Release $tag: the prebuilt image $image@$digest and the native binaries' checksums" \
  -- action.yml native/action.yml
echo "release-commit: committed $(git -C "$root" rev-parse HEAD) ($tag)"
