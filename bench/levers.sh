#!/usr/bin/env bash
# What each build choice buys (README, "Performance"): builds the action cold, in a fresh target dir,
# once as shipped and once per alternative (each applied to a scratch copy of the repository, never
# to the working tree), then runs the shipped binary and every alternative side by side through the
# benchmark harness. Prints cold build wall/CPU time and binary size per variant, then the harness table.
#
# Usage: bash bench/levers.sh [VARIANT...]   (default: all; about 3 minutes of 2-core build time each)
# Run bench/run.sh first: it installs the harness's tools and builds the emulator and baseline.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d /tmp/azure-oidc-levers.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
export CARGO_TERM_COLOR=never

all=(shipped lean-features multi-thread reqwest-defaults aws-lc-rs opt-level-3 no-lto cargo-default-profile)
variants=("$@")
[ "${#variants[@]}" -gt 0 ] || variants=("${all[@]}")

# Edits one TOML line: the first line of Cargo.toml matching the regex $1 becomes $2 (python: robust to
# whatever else the file holds).
toml_line() {
  python3 - "$1" "$2" <<'EOF'
import re, sys
pattern, replacement = sys.argv[1], sys.argv[2]
text = open("Cargo.toml").read()
new, n = re.subn(pattern, replacement, text, count=1, flags=re.M)
if n != 1:
    sys.exit(f"no line matches {pattern!r}")
open("Cargo.toml", "w").write(new)
EOF
}

# Applies variant $1 to the copy in the current directory; echoes whether the lock file may change.
apply() {
  case "$1" in
    shipped) ;;
    lean-features) # tokio without `macros`, reqwest without `json`: neither is used outside tests
      toml_line '^tokio = \{.*\}$' 'tokio = { version = "1", default-features = false, features = ["rt", "time"] }'
      toml_line '^reqwest = \{.*\}$' 'reqwest = { version = "0.12", default-features = false, features = ["rustls-tls-native-roots"] }' ;;
    multi-thread) # tokio's multi-thread scheduler instead of the current-thread one
      toml_line '^tokio = \{.*\}$' 'tokio = { version = "1", default-features = false, features = ["rt", "rt-multi-thread", "time", "macros"] }'
      grep -rl 'new_current_thread()' src | xargs sed -i 's/new_current_thread()/new_multi_thread()/' ;;
    reqwest-defaults) # reqwest's default features: native-tls (OpenSSL), http2, charset, system-proxy
      toml_line '^reqwest = \{.*\}$' 'reqwest = { version = "0.12", features = ["json"] }' ;;
    aws-lc-rs) # rustls with aws-lc-rs (its default provider) instead of ring
      toml_line '^reqwest = \{.*\}$' 'reqwest = { version = "0.12", default-features = false, features = ["rustls-tls-native-roots-no-provider", "json"] }
rustls = { version = "0.23", default-features = false, features = ["aws_lc_rs", "std", "tls12"] }'
      python3 - <<'EOF'
import re
text = open("src/http.rs").read()
new, n = re.subn(r"(pub fn client\([^)]*\)[^{]*\{\n)",
                 r"\1    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();\n", text, count=1)
assert n == 1, "no `pub fn client(` in src/http.rs"
open("src/http.rs", "w").write(new)
EOF
      ;;
    opt-level-3) toml_line '^opt-level = "s"$' 'opt-level = 3' ;;
    no-lto) toml_line '^lto = true$' 'lto = false'; toml_line '^codegen-units = 1$' 'codegen-units = 16' ;;
    cargo-default-profile) # cargo's own release profile: opt-level 3, no LTO, 16 codegen units, symbols, unwinding
      toml_line '^opt-level = "s"$' '# opt-level'; toml_line '^lto = true$' '# lto'
      toml_line '^codegen-units = 1$' '# codegen-units'; toml_line '^strip = true$' '# strip'
      toml_line '^panic = "abort"$' '# panic' ;;
    *) echo "unknown variant $1 (known: ${all[*]})" >&2; exit 2 ;;
  esac
}

printf '| variant | cold build wall s | cold build CPU s | binary bytes | load avg |\n| --- | ---: | ---: | ---: | ---: |\n'
harness_args=()
for variant in "${variants[@]}"; do
  copy=$scratch/$variant
  mkdir -p "$copy"
  (cd "$repo" && tar --exclude=./target --exclude=./.git --exclude=./fuzz --exclude=./bench/.venv \
    --exclude=./bench/node/node_modules -cf - .) | tar -xf - -C "$copy"
  (cd "$copy" && apply "$variant")
  locked=--locked
  case "$variant" in reqwest-defaults | aws-lc-rs) locked= ;; esac # new crates enter the lock file
  # Resolve (and download) first, so the timed build only compiles.
  (cd "$copy" && cargo fetch $locked >/dev/null 2>&1 || cargo fetch >&2)
  (cd "$copy" && /usr/bin/time -f '%e %U %S' -o "$scratch/$variant.time" env CARGO_TARGET_DIR="$scratch/$variant-target" \
    cargo build --release $locked -p azure-oidc-token --bin azure-oidc-token >/dev/null 2>"$scratch/$variant.log") ||
    { echo "| $variant | build failed: $(tail -3 "$scratch/$variant.log" | tr '\n' ' ') | | | |"; continue; }
  read -r wall user sys <"$scratch/$variant.time"
  binary=$scratch/$variant.bin
  cp "$scratch/$variant-target/release/azure-oidc-token" "$binary"
  rm -rf "$scratch/$variant-target" "$copy"
  printf '| %s | %s | %.0f | %s | %.2f |\n' "$variant" "$wall" "$(awk "BEGIN{print $user + $sys}")" "$(wc -c <"$binary")" "$(cut -d' ' -f1 /proc/loadavg)"
  harness_args+=(--variant "variant: $variant=$binary")
done

[ "${#harness_args[@]}" -gt 0 ] || exit 1
python3 "$repo/bench/harness.py" --serve "$repo/target/release/examples/serve" \
  --action "$repo/target/release/azure-oidc-token" --baseline "$repo/target/release/azure-oidc-bench-baseline" \
  --python "$repo/bench/.venv/bin/python" --skip curl,node,python --rounds "${ROUNDS:-30}" "${harness_args[@]}"
