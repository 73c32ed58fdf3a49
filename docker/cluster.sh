#!/usr/bin/env bash
# A 3-of-5 frostzone cluster in Docker containers (docker-compose.yml at the repository root): one
# coordinator and five signers, each in its own container, on a private bridge network with static
# addresses. The operator CLI (`frostzone`) runs on this host against the coordinator's port
# published on 127.0.0.1.
#
#   docker/cluster.sh build             static binaries (target/static) and the FROM-scratch images
#   docker/cluster.sh init [--force]    certificates (`frostzone certs init`), passphrases, configs,
#                                       signer policies that approve every key ceremony and change
#                                       (a demo: nobody is at the signers to run `frostzone approve`),
#                                       and the roster: each signer's `identity` run in its own
#                                       container setup (the key is made in its volume), the entries
#                                       joined by `frostzone roster init` into roster.toml for every
#                                       signer and the operator. Needs the images; --force makes new
#                                       certificates, passphrases and roster (after `down -v`)
#   docker/cluster.sh up                build/init when missing, start, wait for 5 of 5 signers
#   docker/cluster.sh wait [N]          wait until the coordinator sees N signers (default 5)
#   docker/cluster.sh status|keys|ds|sign|verify ARGS...   `frostzone ...` against the cluster
#   docker/cluster.sh cli ARGS...       any `frostzone` command against the cluster
#   docker/cluster.sh compose ARGS...   docker compose with this project (ps, logs, stop signer-4, ...)
#   docker/cluster.sh down [-v]         stop and remove the containers; -v also deletes the volumes,
#                                       i.e. every key share and signer identity: the keys are gone
#                                       for good, and the roster is deleted (the next `up` makes one)
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
#                             roster/ (the identity entries and roster.toml), image/ (build
#                             contexts)                                            [docker/run]
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
        --bins -p frostzone-coordinator -p frostzone-signer-node -p frostzone-cli)
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
        # Each signer's operator approves in its container: the signer image carries the CLI.
        if [ "$name" = signer ]; then
            [ -x "$static_dir/frostzone" ] || die "$static_dir/frostzone was not built"
            cp -f "$static_dir/frostzone" "$run/image/$name/"
        fi
        echo "building image frostzone-$name:$tag" >&2
        docker build -q -f "$root/docker/Dockerfile.$name" -t "frostzone-$name:$tag" "$run/image/$name" >/dev/null
    done
}

# The roster: t and every signer's identity key. A signer makes its key at the first open of its
# store, i.e. in its data volume, so `frostzone-signer ... identity` runs in a one-off container of
# its service (same image, mounts and settings). A running signer holds its store locked, so the
# roster is made only when there is none, when a signer's volume (its identity) is gone, or on
# `init --force`; `down -v` deletes it with the volumes.
roster_dir="$run/roster"

# The project's volumes, one name (as in the compose file) a line.
project_volumes() {
    docker volume ls --filter "label=com.docker.compose.project=$project" \
        --format '{{.Label "com.docker.compose.volume"}}'
}

# Why the roster must be made, or nothing when the one in $roster_dir still holds.
roster_reason() {
    local k volumes
    if [ ! -s "$roster_dir/roster.toml" ]; then
        echo "there is none yet"
        return
    fi
    volumes="$(project_volumes)"
    for k in $(seq 1 "$signers"); do
        if ! grep -qx "signer-$k-data" <<<"$volumes"; then
            echo "the volume of signer-$k, with its identity key, is gone"
            return
        fi
    done
}

# Fails, before init writes anything, where the roster cannot be made.
roster_preflight() {
    local reason="$1" force="$2" running
    docker image inspect "frostzone-signer:$tag" >/dev/null 2>&1 ||
        die "cannot make the roster ($reason) without the image frostzone-signer:$tag: run \`docker/cluster.sh build\` first (\`up\` builds it when missing)"
    running="$(docker ps --filter "label=com.docker.compose.project=$project" \
        --format '{{.Label "com.docker.compose.service"}}' | grep '^signer-' | sort | tr '\n' ' ')" || true
    [ -z "$running" ] ||
        die "cannot make the roster ($reason) while ${running% } run: their stores are locked; \`docker/cluster.sh down\` first"
    if [ "$force" = 1 ] && grep -q '^signer-' <<<"$(project_volumes)"; then
        die "init --force makes new passphrases, which cannot open the signers' volumes of project $project: \`docker/cluster.sh down -v\` (deletes every key share) first"
    fi
}

# `frostzone-signer identity` in a one-off container of signer K: its entry into roster/signer-K.toml,
# the logs into roster/signer-K.log. -T: no terminal, so that stdout holds the entry alone.
signer_identity() {
    compose run --rm --no-deps -T "signer-$1" identity \
        > "$roster_dir/signer-$1.toml" 2> "$roster_dir/signer-$1.log"
}

make_roster() {
    local k entries=() failed=() pids=()
    rm -rf "$roster_dir"
    rm -f "$run"/*/roster.toml
    mkdir -p "$roster_dir"
    echo "making the roster ($1): each signer's identity key, in its volume" >&2
    # The first run creates the project's network and volumes; then the others all at once.
    signer_identity 1 || failed+=(1)
    for k in $(seq 2 "$signers"); do
        signer_identity "$k" &
        pids[k]=$!
    done
    for k in $(seq 2 "$signers"); do
        wait "${pids[k]}" || failed+=("$k")
    done
    if [ ${#failed[@]} != 0 ]; then
        for k in "${failed[@]}"; do
            echo "--- signer-$k: frostzone-signer identity, in a one-off container ---" >&2
            cat "$roster_dir/signer-$k.log" >&2
        done
        die "could not make the identity key of signer ${failed[*]} (output above)"
    fi
    rm -f "$roster_dir"/*.log
    for k in $(seq 1 "$signers"); do
        entries+=("$roster_dir/signer-$k.toml")
    done
    "$(frostzone_bin)" roster init --threshold "$threshold" --out "$roster_dir/roster.toml" "${entries[@]}" >&2
}

# Certificates and passphrases are made once (the shares in the volumes are encrypted under those
# passphrases); the configs are rewritten every time, so that a changed network follows.
cmd_init() {
    local force=0 reason
    [ "${1:-}" = "--force" ] && force=1
    reason="$(roster_reason)"
    [ "$force" = 1 ] && reason="init --force"
    [ -z "$reason" ] || roster_preflight "$reason" "$force"
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
        echo "# A signer cut off the network answers nothing; after this long its batch goes to"
        echo "# another subset (a zone of this demo's size signs well within it)."
        echo "request_timeout_secs = 15"
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
        mkdir -p "$run/$party/admin"
        # The signer (root in its container, without CAP_DAC_OVERRIDE) makes its socket here. Run
        # by root, the directory is root's alone; otherwise anyone may create files in it, but
        # only their own (sticky, like /tmp), and the socket itself is 0600, the signer's.
        if [ "$(id -u)" -eq 0 ]; then chmod 0700 "$run/$party/admin"; else chmod 1777 "$run/$party/admin"; fi
        cp -f "$run/pki/ca.pem" "$run/pki/$party.pem" "$run/pki/$party.key" "$run/pki/coordinator.pem" "$run/$party/"
        if [ "$force" = 1 ] || [ ! -s "$run/$party/passphrase" ]; then
            od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$run/$party/passphrase"
            echo >> "$run/$party/passphrase"
        fi
        # No operator is at these signers: everything is approved by policy (see the file).
        cat > "$run/$party/policy.toml" <<'EOF'
# Written by docker/cluster.sh for a demo cluster, where no operator is at the
# signers to approve anything: key ceremonies (DKG, import, removal) and
# every change, key changes (DNSKEY, CDS, CDNSKEY) and DS changes included,
# are approved by policy.
#
# Production keeps the default [approval] (key_changes and key_ceremonies =
# "operator" and the default limits), so that this signer's operator reviews
# key ceremonies, key changes and large changes and approves them with
# `frostzone approve --socket /run/frostzone/admin.sock` (in the container:
# `docker compose exec signer-K /frostzone approve ...`).
version = 1

[approval]
key_changes = "auto"
key_ceremonies = "auto"
max_rrsets_changed = 1000000
max_names_added = 1000000
max_names_removed = 1000000
max_ds_changed = 1000000
EOF
        cat > "$run/$party/signer.toml" <<EOF
# Written by docker/cluster.sh; paths are inside the container.
version = 1
name = "$party"
participant = $k
listen = "0.0.0.0:7001"
data_dir = "/var/lib/frostzone"
passphrase_file = "/etc/frostzone/passphrase"
roster = "/etc/frostzone/roster.toml"
policy = "/etc/frostzone/policy.toml"
# A directory of the host (docker/run/$party/admin), where this signer's operator reaches it.
admin_socket = "/run/frostzone/admin.sock"

[tls]
ca = "/etc/frostzone/ca.pem"
cert = "/etc/frostzone/$party.pem"
key = "/etc/frostzone/$party.key"
coordinator_cert = "/etc/frostzone/coordinator.pem"
EOF
    done
    [ -z "$reason" ] || make_roster "$reason"
    for party in operator $(seq -f 'signer-%g' 1 "$signers"); do
        cp -f "$roster_dir/roster.toml" "$run/$party/roster.toml"
    done
    # Certificates, configs and the roster are public; keys and passphrases stay 0600.
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

cmd_down() {
    local arg
    compose down "$@"
    for arg in "$@"; do
        case "$arg" in
            -v|--volumes)
                # The identity keys were in the volumes: the next init makes a new roster.
                rm -rf "$roster_dir"
                rm -f "$run"/*/roster.toml
                echo "deleted the roster with the volumes (the signers' identity keys)" >&2
                ;;
        esac
    done
}

[ $# -ge 1 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
command="$1"
shift
case "$command" in
    build) cmd_build ;;
    init) cmd_init "$@" ;;
    up) cmd_up "$@" ;;
    wait) cmd_wait "$@" ;;
    down) cmd_down "$@" ;;
    compose) compose "$@" ;;
    cli) fz "$@" ;;
    status|keys|ds|sign) fz "$command" "$@" ;;
    # verify works offline (the DS file is the trust anchor) and needs no coordinator.
    verify) exec "$(frostzone_bin)" verify "$@" ;;
    help|-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
    *) die "unknown command $command (try: build, init, up, wait, status, keys, ds, sign, verify, cli, compose, down)" ;;
esac
