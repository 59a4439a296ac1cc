# Image for the azure-oidc-token container action (action.yml: runs.using docker, image Dockerfile).
# The runner builds it with `docker build` in every job that uses the action.

# ---- builder: compile the release binary ----------------------------------------------------------
FROM rust:1.95-bookworm AS builder

# Only what cargo needs to build the binary. emulator/ is a workspace member, so it must be present
# for cargo to read the workspace; tests/ and examples/ are not needed (cargo only auto-discovers them).
# No WORKDIR anywhere in this file: paths are absolute instead.
COPY Cargo.toml Cargo.lock /build/
COPY src /build/src
COPY emulator /build/emulator

# --locked: build exactly the dependency versions in Cargo.lock, fail if it is out of date.
RUN cargo build --manifest-path /build/Cargo.toml --release --locked --bin azure-oidc-token \
 && mkdir -p /out \
 && cp /build/target/release/azure-oidc-token /out/azure-oidc-token

# ---- runtime: what the runner starts ------------------------------------------------------------
# distroless/cc has glibc and libgcc for the dynamically linked (glibc) binary built above, and no
# shell or package manager. Its default user is root (unlike the :nonroot tag), which GitHub
# requires: the runner creates the file-command files (GITHUB_OUTPUT, ...) on the host, and the
# container must be able to append to them.
FROM gcr.io/distroless/cc-debian12 AS runtime

# The CA bundle from the builder image, at the standard Debian path, where
# rustls' native-roots loader finds it (SSL_CERT_FILE / SSL_CERT_DIR override it at run time).
# distroless ships the same Debian bundle; copying it keeps the runtime stage independent of that.
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=builder /out/azure-oidc-token /azure-oidc-token

# Exec form: no shell in between (distroless has none). The runner passes no arguments (action.yml
# has no args), and run with no arguments the binary runs the action.
# No USER (GitHub requires the default root user) and no WORKDIR (the runner mounts the workspace
# and sets --workdir itself).
ENTRYPOINT ["/azure-oidc-token"]
