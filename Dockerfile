# Image of the azure-oidc-token container action: a static binary and a CA bundle, nothing else.
#
# Releases are built once by .github/workflows/release.yml (linux/amd64 and linux/arm64), pushed to
# ghcr.io and referenced from the released action.yml by digest, so runners only pull them. Only a
# ref whose action.yml still says `image: Dockerfile` (e.g. @main) makes the runner build this file.
#
# The `runtime` stage can be built without pulling anything, from a directory laid out like the
# builder stage (a named build context replaces the stage of the same name):
#   scripts/build-static.sh DIR && podman build --build-context builder=DIR --target runtime .
# The container test builds it so, and so does release.yml, with the directory the Linux release
# binary was built in (AUDITABLE=1): the image's binary is that release asset, byte for byte.

# ---- builder: the static binary, by the same script the container test uses --------------------
# Official Rust image, pinned by digest (a multi-platform index: amd64 and arm64 each build natively).
# To update: `docker buildx imagetools inspect rust:1.95-bookworm` and change tag and digest together.
FROM docker.io/library/rust:1.95-bookworm@sha256:6258907abe69656e41cd992e0b705cdcfabcbbe3db374f92ed2d47121282d4a1 AS builder

# The whole workspace (cargo needs every member's manifest); .dockerignore leaves out target/ and .git/.
# No WORKDIR anywhere in this file: paths are absolute instead.
COPY . /build/

# With DIR=/ the script leaves /out/azure-oidc-token (static, --locked) beside the image's own
# /etc/ssl/certs/ca-certificates.crt: the two paths the runtime stage copies.
RUN bash /build/scripts/build-static.sh /

# ---- runtime: what the runner starts ------------------------------------------------------------
FROM scratch AS runtime

# rustls' native-roots loader reads the Debian bundle path; SSL_CERT_FILE / SSL_CERT_DIR override it
# at run time (self-hosted runners behind TLS inspection).
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=builder /out/azure-oidc-token /azure-oidc-token

# Exec form: there is no shell. The runner passes no arguments (action.yml has no args), and run with
# no arguments the binary runs the action; inputs arrive as INPUT_* environment variables.
# No USER: GitHub requires the default root user (the runner creates the file-command files on the
# host, and the container appends to them). No WORKDIR: the runner sets --workdir /github/workspace.
ENTRYPOINT ["/azure-oidc-token"]
