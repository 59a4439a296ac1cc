#!/usr/bin/env bash
# Builds the static binary and lays out what the image's `runtime` stage copies, under DIR:
#   DIR/out/azure-oidc-token                 the binary, statically linked (no loader, no libc in the image)
#   DIR/etc/ssl/certs/ca-certificates.crt    the CA bundle rustls' native-roots loader reads
# The Dockerfile's `builder` stage runs this with DIR=/, and the container test runs it with a temp
# DIR passed to `podman build --build-context builder=DIR`: one recipe, so what is tested is what ships.
#
# Environment: CARGO_TARGET_DIR (default: <repo>/target/static, apart from the normal build because
# RUSTFLAGS differ), CA_BUNDLE (default: /etc/ssl/certs/ca-certificates.crt, Debian's ca-certificates),
# AUDITABLE=1 to build with `cargo auditable` (release.yml's binaries: the dependency list is embedded).
set -euo pipefail

if [ "$#" -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
repo=$(cd "$(dirname "$0")/.." && pwd)
ca_bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target/static}

if [ ! -s "$ca_bundle" ]; then
  echo "error: no CA bundle at $ca_bundle (install Debian's ca-certificates, or set CA_BUNDLE)" >&2
  exit 1
fi

# The host's own triple (x86_64- or aarch64-unknown-linux-gnu): buildx builds each platform natively
# or under emulation, never cross. Naming --target explicitly keeps RUSTFLAGS off build scripts and
# proc-macros, which must stay dynamic to be loadable by the compiler.
target=$(rustc -vV | sed -n 's/^host: //p')
case "$target" in
  *-linux-gnu) ;;
  *) echo "error: expected a *-linux-gnu host, got '$target'" >&2; exit 1 ;;
esac

# glibc, linked statically. Its getaddrinfo would need NSS modules at run time, and scratch has none:
# the static-resolver feature makes reqwest resolve with hickory, which reads /etc/resolv.conf and
# /etc/hosts (where docker/podman put --add-host entries) by itself.
build=(build)
if [ "${AUDITABLE:-}" = 1 ]; then build=(auditable build); fi
RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C target-feature=+crt-static" \
  cargo "${build[@]}" --manifest-path "$repo/Cargo.toml" --release --locked \
  --bin azure-oidc-token --features static-resolver --target "$target"

binary=$CARGO_TARGET_DIR/$target/release/azure-oidc-token
# A dynamically linked binary would start on the build host and fail in scratch with a bare
# "no such file or directory" (no loader): refuse it here.
if ! LC_ALL=C ldd "$binary" 2>&1 | grep -Eq 'not a dynamic executable|statically linked'; then
  echo "error: $binary is not statically linked:" >&2
  ldd "$binary" >&2 || true
  exit 1
fi

mkdir -p "$dir/out" "$dir/etc/ssl/certs"
install -m 0755 "$binary" "$dir/out/azure-oidc-token"
# With DIR=/ (the builder stage) the bundle is already in place.
if [ ! "$ca_bundle" -ef "$dir/etc/ssl/certs/ca-certificates.crt" ]; then
  install -m 0644 "$ca_bundle" "$dir/etc/ssl/certs/ca-certificates.crt"
fi
echo "built $dir/out/azure-oidc-token ($target, static, $(wc -c <"$dir/out/azure-oidc-token") bytes)"
