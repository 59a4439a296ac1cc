#!/usr/bin/env bash
# Builds the fuzz targets and runs each for SECONDS (default 60), then prints the executions per
# target and in total. A crash, a failed assertion, an overflow, a leak or a timeout stops the
# script with the reproducer's path (fuzz/artifacts/TARGET/...).
#
#   fuzz/run.sh [--dev] [SECONDS] [TARGET...]
#
# --dev builds the dev profile, where only the code the targets run is optimised (see Cargo.toml):
# about 60 % of the default release build's CPU time, for about 85 % of its executions per second
# (810,000 against 930,000 in 7 × 10 s). CI's smoke run uses it. Needs the nightly toolchain and cargo-fuzz
# (`cargo install --locked cargo-fuzz --version 0.13.2`).
# Reproduce a finding: cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-...
set -euo pipefail
cd "$(dirname "$0")"

profile=()
if [[ "${1:-}" == "--dev" ]]; then
    profile=(--dev)
    shift
fi
seconds="${1:-60}"
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

# The lock file is committed: refuse to run on anything it does not pin.
if ! cargo +nightly fetch --locked --quiet; then
    echo "fuzz: fuzz/Cargo.lock is out of date with the root Cargo.lock; refresh it with" >&2
    echo "    cp Cargo.lock fuzz/Cargo.lock && (cd fuzz && cargo +nightly fetch)" >&2
    exit 1
fi
# Debug assertions and overflow checks stay on (cargo-fuzz's default): an overflow is a finding.
cargo +nightly fuzz build "${profile[@]}" --debug-assertions "${targets[@]:0:$(( ${#targets[@]} == 1 ))}"

total=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    dirs=("corpus/$target")
    [[ -d "seeds/$target" ]] && dirs+=("seeds/$target")
    options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
    case "$target" in
        claims | github_response | entra_response) options+=(-dict=dicts/json.dict) ;;
    esac
    log="$(mktemp)"
    if ! cargo +nightly fuzz run "${profile[@]}" --debug-assertions "$target" "${dirs[@]}" -- "${options[@]}" >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz: $target FAILED (reproducer under fuzz/artifacts/$target/)"
        exit 1
    fi
    runs="$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1)"
    corpus="$(find "corpus/$target" -type f | wc -l)"
    echo "fuzz: $target: ${runs:-0} executions in ${seconds} s, corpus ${corpus} inputs, no finding"
    total=$(( total + ${runs:-0} ))
    rm -f "$log"
done
echo "fuzz: ${#targets[@]} targets, ${total} executions in total, no finding"
