#!/usr/bin/env bash
# A 3-of-5 frostzone cluster in Docker containers (docker-compose.yml at the repository root): one
# coordinator and five signers, each in its own container, on a private bridge network with static
# addresses. The operator CLI (`frostzone`) runs on this host against the coordinator's port
# published on 127.0.0.1.
#
#   docker/cluster.sh build             static binaries (target/static) and the FROM-scratch images
#   docker/cluster.sh init              certificates (`frostzone certs init`), passphrases, configs,
#                                       signer policies that approve every change (a demo: nobody is
#                                       at the signers to run `frostzone approve`)
#   docker/cluster.sh up                build/init when missing, start, wait for 5 of 5 signers
#   docker/cluster.sh wait [N]          wait until the coordinator sees N signers (default 5)
#   docker/cluster.sh status|keys|ds|sign|verify ARGS...   `frostzone ...` against the cluster
#   docker/cluster.sh cli ARGS...       any `frostzone` command against the cluster
#   docker/cluster.sh compose ARGS...   docker compose with this project (ps, logs, stop signer-4, ...)
#   docker/cluster.sh down [-v]         stop and remove the containers; -v also deletes the volumes,
#                                       i.e. every key share: the keys are gone for good
#
# Example:
#   docker/cluster.sh up
#   docker/cluster.sh keys generate --zone example.com. --role ksk
#   docker/cluster.sh keys generate --zone example.com. --role zsk
#   docker/cluster.sh sign --zone example.com. --file examples/example.zone --out example.com.signed
#   docker/cluster.sh ds --zone example.com. > example.com.ds
#   docker/cluster.sh verify example.com.signed --ds example.com.ds
#
# Environment (all optional):
#   FROSTZONE_DOCKER_RUN      generated files: pki/ (the development CA and every certificate,
#                             for development only), one directory per party that is mounted
#                             read-only into its container, operator/ (the CLI's --tls-dir),
#                             image/ (build contexts)                              [docker/run]
#   FROSTZONE_DOCKER_PROJECT  compose project name                                [frostzone]
#   FROSTZONE_DOCKER_NET      first three octets of the network's /24             [172.29.53]
#   FROSTZONE_DOCKER_PORT     coordinator port on 127.0.0.1                       [17000]
#   FROSTZONE_DOCKER_TAG      image tag                                           [local]
#   FROSTZONE_DOCKER_WAIT     seconds `up`/`wait` wait for the signers            [90]
#   FROSTZONE_BIN             the frostzone CLI   [target/release/frostzone, target/debug/frostzone, PATH]
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
run="${FROSTZONE_DOCKER_RUN:-$root/docker/run}"
mkdir -p "$run"
run="$(cd "$run" && pwd)"
project="${FROSTZONE_DOCKER_PROJECT:-frostzone}"
net="${FROSTZONE_DOCKER_NET:-172.29.53}"
port="${FROSTZONE_DOCKER_PORT:-17000}"
tag="${FROSTZONE_DOCKER_TAG:-local}"
wait_secs="${FROSTZONE_DOCKER_WAIT:-90}"
# The compose file reads these.
export FROSTZONE_DOCKER_RUN="$run" FROSTZONE_DOCKER_NET="$net" FROSTZONE_DOCKER_PORT="$port" \
       FROSTZONE_DOCKER_TAG="$tag"

signers=5
threshold=3
target=x86_64-unknown-linux-gnu
static_dir="$root/target/static/$target/release"

die() { echo "docker/cluster.sh: $*" >&2; exit 1; }

compose() {
    local cmd
    if docker compose version >/dev/null 2>&1; then
        cmd=(docker compose)
    elif command -v docker-compose >/dev/null 2>&1; then
        cmd=(docker-compose)
    else
        die "neither \`docker compose\` nor \`docker-compose\` is installed"
    fi
    "${cmd[@]}" -p "$project" -f "$root/docker-compose.yml" "$@"
}

frostzone_bin() {
    if [ -n "${FROSTZONE_BIN:-}" ]; then
        echo "$FROSTZONE_BIN"
    elif [ -x "$root/target/release/frostzone" ]; then
        echo "$root/target/release/frostzone"
    elif [ -x "$root/target/debug/frostzone" ]; then
        echo "$root/target/debug/frostzone"
    elif command -v frostzone >/dev/null 2>&1; then
        command -v frostzone
    else
        die "no frostzone CLI: build it with \`cargo build --release -p frostzone-cli\` or set FROSTZONE_BIN"
    fi
}

# The CLI on this host against the containerised coordinator.
fz() {
    local bin
    bin="$(frostzone_bin)"
    "$bin" --coordinator "https://127.0.0.1:$port" --tls-dir "$run/operator" "$@"
}

cmd_build() {
    # Statically linked (glibc static-pie): a FROM-scratch image has no libc to load. A separate
    # target directory keeps the normal target/ builds untouched. Without the release profile's
    # debug info (symbols stay): images of about a fifth of the size, and a faster build.
    echo "building static binaries into $static_dir" >&2
    (cd "$root" && env -u CARGO_ENCODED_RUSTFLAGS RUSTFLAGS='-C target-feature=+crt-static' \
        CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=debuginfo \
        "${CARGO:-cargo}" build --release --locked --target "$target" --target-dir "$root/target/static" \
        --bins -p frostzone-coordinator -p frostzone-signer-node)
    local name bin
    for name in coordinator signer; do
        bin="$static_dir/frostzone-$name"
        [ -x "$bin" ] || die "$bin was not built"
        if command -v ldd >/dev/null 2>&1 && ldd "$bin" 2>&1 | grep -q '=>'; then
            die "$bin is dynamically linked; a FROM-scratch image cannot run it"
        fi
        # A build context with only the binary (the repository's target/ is gigabytes).
        mkdir -p "$run/image/$name"
        cp -f "$bin" "$run/image/$name/"
        echo "building image frostzone-$name:$tag" >&2
        docker build -q -f "$root/docker/Dockerfile.$name" -t "frostzone-$name:$tag" "$run/image/$name" >/dev/null
    done
}

# Certificates and passphrases are made once (the shares in the volumes are encrypted under those
# passphrases); the configs are rewritten every time, so that a changed network follows.
cmd_init() {
    local force=0
    [ "${1:-}" = "--force" ] && force=1
    if [ "$force" = 1 ] || [ ! -f "$run/pki/ca.pem" ]; then
        local args=(certs init --dir "$run/pki" --signers "$signers")
        [ "$force" = 1 ] && args+=(--force)
        "$(frostzone_bin)" "${args[@]}" >&2
    fi
    umask 077
    local k party
    mkdir -p "$run/coordinator" "$run/operator"
    cp -f "$run/pki/ca.pem" "$run/pki/coordinator.pem" "$run/pki/coordinator.key" "$run/pki/operator.pem" \
        "$run/coordinator/"
    cp -f "$run/pki/ca.pem" "$run/pki/operator.pem" "$run/pki/operator.key" "$run/operator/"
    {
        echo "# Written by docker/cluster.sh; paths are inside the container."
        echo "version = 1"
        echo "listen = \"0.0.0.0:7000\""
        echo "data_dir = \"/var/lib/frostzone\""
        echo "threshold = $threshold"
        echo
        echo "[tls]"
        echo "ca = \"/etc/frostzone/ca.pem\""
        echo "cert = \"/etc/frostzone/coordinator.pem\""
        echo "key = \"/etc/frostzone/coordinator.key\""
        echo
        echo "[[operators]]"
        echo "name = \"operator\""
        echo "cert = \"/etc/frostzone/operator.pem\""
        for k in $(seq 1 "$signers"); do
            echo
            echo "[[signers]]"
            echo "name = \"signer-$k\"                 # TLS checks this name, not the address"
            echo "participant = $k"
            echo "endpoint = \"https://$net.$((10 + k)):7001\""
        done
    } > "$run/coordinator/coordinator.toml"
    for k in $(seq 1 "$signers"); do
        party="signer-$k"
        mkdir -p "$run/$party"
        cp -f "$run/pki/ca.pem" "$run/pki/$party.pem" "$run/pki/$party.key" "$run/pki/coordinator.pem" "$run/$party/"
        if [ "$force" = 1 ] || [ ! -s "$run/$party/passphrase" ]; then
            od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$run/$party/passphrase"
            echo >> "$run/$party/passphrase"
        fi
        # No operator is at these signers: every change is approved by policy (see the file).
        cat > "$run/$party/policy.toml" <<'EOF'
# Written by docker/cluster.sh for a demo cluster, where no operator is at the
# signers to approve anything: every change, key changes (DNSKEY, CDS,
# CDNSKEY) included, is approved by policy.
#
# Production keeps the default [approval] (key_changes = "operator" and the
# default limits), so that this signer's operator reviews key changes and
# large changes and approves them with `frostzone approve --socket
# <data_dir>/admin.sock` (here the socket is in the container's data volume).
version = 1

[approval]
key_changes = "auto"
max_rrsets_changed = 1000000
max_names_added = 1000000
max_names_removed = 1000000
EOF
        cat > "$run/$party/signer.toml" <<EOF
# Written by docker/cluster.sh; paths are inside the container.
version = 1
name = "$party"
participant = $k
listen = "0.0.0.0:7001"
data_dir = "/var/lib/frostzone"
passphrase_file = "/etc/frostzone/passphrase"
policy = "/etc/frostzone/policy.toml"

[tls]
ca = "/etc/frostzone/ca.pem"
cert = "/etc/frostzone/$party.pem"
key = "/etc/frostzone/$party.key"
coordinator_cert = "/etc/frostzone/coordinator.pem"
EOF
    done
    # Certificates and configs are public; keys and passphrases stay 0600.
    chmod 0644 "$run"/*/*.pem "$run"/*/*.toml
    chmod 0755 "$run"/*/
    echo "configs for network $net.0/24 in $run" >&2
}

cmd_wait() {
    local want="${1:-$signers}" out deadline=$((SECONDS + wait_secs))
    while :; do
        if out="$(fz status 2>&1)" && grep -q "signers: $want of $signers reachable" <<<"$out"; then
            echo "coordinator at https://127.0.0.1:$port sees $want of $signers signers" >&2
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "docker/cluster.sh: not ready after $wait_secs s (want $want of $signers signers reachable); last status:" >&2
            echo "$out" >&2
            compose ps >&2 || true
            compose logs --tail 20 >&2 || true
            return 1
        fi
        sleep 0.5
    done
}

cmd_up() {
    if ! docker image inspect "frostzone-coordinator:$tag" "frostzone-signer:$tag" >/dev/null 2>&1; then
        cmd_build
    fi
    cmd_init
    compose up -d "$@"
    cmd_wait "$signers"
}

[ $# -ge 1 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
command="$1"
shift
case "$command" in
    build) cmd_build ;;
    init) cmd_init "$@" ;;
    up) cmd_up "$@" ;;
    wait) cmd_wait "$@" ;;
    down) compose down "$@" ;;
    compose) compose "$@" ;;
    cli) fz "$@" ;;
    status|keys|ds|sign) fz "$command" "$@" ;;
    # verify works offline (the DS file is the trust anchor) and needs no coordinator.
    verify) exec "$(frostzone_bin)" verify "$@" ;;
    help|-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
    *) die "unknown command $command (try: build, init, up, wait, status, keys, ds, sign, verify, cli, compose, down)" ;;
esac
