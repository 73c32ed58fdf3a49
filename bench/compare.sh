#!/usr/bin/env bash
# The performance benchmark (issue "Performance and scale"). In one run on one machine it signs
# the reference zone (N delegations, 2 NS each, every third with a DS; NSEC3 with 0 iterations
# and no salt, Ed25519) with Knot, ldns and BIND (the single-key anchors), with `frostzone
# simulate` (3-of-5 in one process) and with a real 3-of-5 cluster (coordinator + 5 signer
# processes over mutual TLS on loopback, what `frostzone quickstart` runs), measures the protocol
# floor (`frostzone bench floor`: RFC 9591's own CPU per signature for 3-of-5 in one process),
# and prints wall time, RRSIGs per second, CPU seconds and peak memory of every process, CPU per
# RRSIG, and the ratios the issue sets as targets. How each anchor is run follows
# /work/shared/notes/stack.md ("Single-key signers on the same machine").
#
# Usage: bench/compare.sh [--delegations N] [--no-simulate]     (default N=100000; a bare N works too)
# Env:   KEEP=1  keep the work directory;  ORIGIN=ref.test.  zone origin;  BASE_PORT=7400.
#        Above 200000 delegations the one-process simulation is left out unless --simulate is given.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
n=100000
simulate=auto
while [ $# -gt 0 ]; do
    case $1 in
        --delegations) n=${2:?--delegations needs a number}; shift 2 ;;
        --delegations=*) n=${1#*=}; shift ;;
        --no-simulate) simulate=no; shift ;;
        --simulate) simulate=yes; shift ;;
        [0-9]*) n=$1; shift ;;
        *) echo "compare.sh: unknown argument $1 (usage: bench/compare.sh [--delegations N] [--no-simulate|--simulate])" >&2; exit 2 ;;
    esac
done
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --delegations must be a positive number, not $n" >&2; exit 2; }
[ "$simulate" = auto ] && { [ "$n" -le 200000 ] && simulate=yes || simulate=no; }
origin=${ORIGIN:-ref.test.}
origin_nodot=${origin%.}

for p in kzonesign ldns-signzone ldns-keygen dnssec-signzone dnssec-keygen ldns-read-zone; do
    command -v "$p" >/dev/null || { echo "compare.sh: $p not installed (run scripts/test once, or apt-get install ldnsutils bind9-utils knot-dnssecutils)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "compare.sh: /usr/bin/time not installed (apt-get install time)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/frostzone-bench.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then echo "work directory: $work" >&2; else trap 'rm -rf "$work"' EXIT; fi

echo "building (release) ..." >&2
cargo build --release -q -p frostzone-tests --bin gen-reference-zone
frostzone_ok=1
if ! cargo build --release -q --bins -p frostzone-cli -p frostzone-coordinator -p frostzone-signer-node > "$work/cargo-cli.log" 2>&1; then
    echo "compare.sh: frostzone-cli does not build; its row is skipped. Last lines of cargo's output:" >&2
    tail -5 "$work/cargo-cli.log" >&2
    frostzone_ok=0
fi
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
"$target/release/gen-reference-zone" --delegations "$n" --origin "$origin" > "$work/ref.zone"
echo "reference zone: $n delegations, $(wc -l < "$work/ref.zone") lines" >&2

# time_run NAME LOG CMD...: runs CMD, records "seconds kilobytes" in $work/NAME.time.
time_run() {
    local name=$1 log=$2; shift 2
    echo "signing with $name ..." >&2
    if ! /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" > "$log" 2>&1; then
        echo "compare.sh: $name failed; its output:" >&2
        tail -20 "$log" >&2
        echo "failed 0" > "$work/$name.time"
        return 1
    fi
}

# --- Knot: kasp + policy in a throwaway config; kzonesign makes the keys itself.
mkdir -p "$work/knot/kasp" "$work/knot/out"
cp "$work/ref.zone" "$work/knot/$origin.zone"
cat > "$work/knot/knot.conf" <<CONF
database:
    storage: "$work/knot"
template:
  - id: default
    storage: "$work/knot"
    kasp-db: "$work/knot/kasp"
policy:
  - id: bench
    algorithm: ed25519
    nsec3: on
    nsec3-iterations: 0
    nsec3-salt-length: 0
zone:
  - domain: $origin
    file: "$work/knot/$origin.zone"
    dnssec-signing: on
    dnssec-policy: bench
CONF
time_run kzonesign "$work/knot/log" kzonesign -c "$work/knot/knot.conf" -o "$work/knot/out" "$origin" || true
knot_out=$(ls "$work/knot/out/"* 2>/dev/null | head -1 || true)

# --- ldns: KSK + ZSK from ldns-keygen.
mkdir -p "$work/ldns"
(cd "$work/ldns" && ldns-keygen -a ED25519 -k "$origin" > ksk && ldns-keygen -a ED25519 "$origin" > zsk)
time_run ldns-signzone "$work/ldns/log" ldns-signzone -n -t 0 -f "$work/ldns/signed" "$work/ref.zone" \
    "$work/ldns/$(cat "$work/ldns/zsk")" "$work/ldns/$(cat "$work/ldns/ksk")" || true

# --- BIND: KSK + ZSK from dnssec-keygen, $INCLUDEd into the zone.
mkdir -p "$work/bind"
(
    cd "$work/bind"
    zsk=$(dnssec-keygen -q -a ED25519 "$origin_nodot")
    ksk=$(dnssec-keygen -q -a ED25519 -f KSK "$origin_nodot")
    { cat "$work/ref.zone"; echo "\$INCLUDE $work/bind/$zsk.key"; echo "\$INCLUDE $work/bind/$ksk.key"; } > zone
)
time_run dnssec-signzone "$work/bind/log" bash -c 'cd "$1" && exec dnssec-signzone -q -n 1 -3 - -H 0 -o "$2" -f signed zone' _ "$work/bind" "$origin_nodot" || true

# --- frostzone: DKG among 5, every signature by 3, all in one process.
if [ "$frostzone_ok" = 1 ] && [ "$simulate" = yes ]; then
    mkdir -p "$work/frostzone"
    time_run frostzone "$work/frostzone/log" "$target/release/frostzone" simulate "$work/ref.zone" \
        --origin "$origin" --threshold 3 --signers 5 \
        --out "$work/frostzone/signed" --ds-out "$work/frostzone/ds" || true
fi

# --- frostzone cluster: coordinator + 5 signer processes on loopback, 3-of-5 over mutual TLS
# (what `frostzone quickstart` runs). Peak memory per process comes from its own report.
if [ "$frostzone_ok" = 1 ]; then
    time_run cluster "$work/cluster.log" "$target/release/frostzone" quickstart "$work/ref.zone" \
        --origin "$origin" --out "$work/cluster" --base-port "${BASE_PORT:-7400}" || true
    echo "measuring the protocol floor ..." >&2
    "$target/release/frostzone" bench floor --threshold 3 --signers 5 > "$work/floor.log" 2>&1 \
        || { echo "compare.sh: frostzone bench floor failed:" >&2; cat "$work/floor.log" >&2; }
fi

count_rrsigs() {
    [ -s "${1:-}" ] || { echo 0; return; }
    ldns-read-zone "$1" 2>/dev/null | awk '$4 == "RRSIG"' | wc -l
}

declare -A out=(
    [kzonesign]=$knot_out
    [ldns-signzone]="$work/ldns/signed"
    [dnssec-signzone]="$work/bind/signed"
    [frostzone]="$work/frostzone/signed"
    [cluster]="$work/cluster/${origin}signed"
)
base=$(cut -d' ' -f1 "$work/kzonesign.time")

printf '\nreference zone: %s delegations, origin %s, %s\n' "$n" "$origin" "$(nproc) cores"
printf '%-26s %10s %10s %10s %12s %14s\n' signer "wall s" "peak MB" RRSIGs "RRSIGs/s" "x kzonesign"
for s in kzonesign ldns-signzone dnssec-signzone frostzone cluster; do
    label=$s
    [ "$s" = dnssec-signzone ] && label="dnssec-signzone -n 1"
    [ "$s" = frostzone ] && label="frostzone simulate 3-of-5"
    [ "$s" = cluster ] && label="frostzone cluster, all"
    if [ ! -f "$work/$s.time" ]; then
        printf '%-26s %10s\n' "$label" "not run"; continue
    fi
    read -r secs kb < "$work/$s.time"
    if [ "$secs" = failed ]; then
        printf '%-26s %10s\n' "$label" "FAILED"; continue
    fi
    sigs=$(count_rrsigs "${out[$s]}")
    awk -v l="$label" -v t="$secs" -v kb="$kb" -v c="$sigs" -v b="$base" 'BEGIN {
        rate = (t > 0) ? c / t : 0
        ratio = (b != "failed" && b > 0) ? sprintf("%.2f", t / b) : "-"
        printf "%-26s %10.2f %10.0f %10d %12.0f %14s\n", l, t, kb / 1024, c, rate, ratio
    }'
done
if [ -f "$work/cluster.log" ]; then
    echo
    # The cluster's own figures: signing wall time (zone upload to validated signed zone, without
    # start-up and DKG), and per process the CPU seconds spent while signing and the peak memory.
    sign_wall=$(sed -n 's/^signed .* RRSIGs in \([0-9.]*\) s .*/\1/p' "$work/cluster.log" | head -1)
    rrsigs=$(count_rrsigs "${out[cluster]}")
    floor_us=$(sed -n 's/^floor [0-9]*-of-[0-9]*: \([0-9.]*\) us per signature.*/\1/p' "$work/floor.log" 2>/dev/null | head -1)
    bind_wall=$(cut -d' ' -f1 "$work/dnssec-signzone.time")
    knot_kb=$(cut -d' ' -f2 "$work/kzonesign.time")
    if [ -z "$sign_wall" ] || [ "$rrsigs" = 0 ]; then
        echo "cluster: no signing figures (see $work/cluster.log)"
    else
        printf 'cluster 3-of-5, signing only: %s s wall, %s RRSIGs, %.0f RRSIGs/s\n' "$sign_wall" "$rrsigs" "$(awk -v c="$rrsigs" -v t="$sign_wall" 'BEGIN { print c / t }')"
        printf '%-14s %10s %10s %16s\n' process "CPU s" "peak MB" "CPU us/RRSIG"
        grep '^process ' "$work/cluster.log" | awk -v c="$rrsigs" '{
            split($3, a, "="); split($4, b, "=")
            printf "%-14s %10.2f %10.0f %16.1f\n", $2, a[2], b[2] / 1024, a[2] * 1e6 / c
            cpu += a[2]
        } END { printf "%-14s %10.2f %10s %16.1f\n", "all", cpu, "", cpu * 1e6 / c }'
        [ -n "$floor_us" ] && grep '^floor ' "$work/floor.log" | sed 's/^/protocol /'
        echo
        echo "targets (each a ratio measured in this run):"
        grep '^process ' "$work/cluster.log" | awk -v c="$rrsigs" -v w="$sign_wall" -v bind="$bind_wall" \
            -v floor="${floor_us:-0}" -v knot_kb="$knot_kb" '
            function row(name, value, limit, unit) {
                printf "  %-60s %7.3f%s  (target <= %s%s)  %s\n", name, value, unit, limit, unit, (value <= limit ? "met" : "MISSED")
            }
            {
                split($3, a, "="); split($4, b, "=")
                cpu += a[2]
                if (a[2] > slowest) { slowest = a[2]; slowest_name = $2 }
                if ($2 == "coordinator") { coord_kb = b[2] } else if (b[2] > signer_kb) { signer_kb = b[2] }
            }
            END {
                if (bind > 0 && bind != "failed") {
                    row("deployed speed: max CPU s / 2 (" slowest_name ") / dnssec-signzone wall", slowest / 2 / bind, 1.0, "x")
                    row("all on one box: cluster wall / dnssec-signzone wall", w / bind, 4.0, "x")
                }
                if (floor > 0) row("close to the floor: CPU per RRSIG, all processes / floor", cpu * 1e6 / c / floor, 1.25, "x")
                if (knot_kb > 0 && knot_kb != "failed") {
                    row("memory: coordinator peak / kzonesign peak", coord_kb / knot_kb, 1.0, "x")
                    row("memory: largest signer peak / kzonesign peak", signer_kb / knot_kb, 0.25, "x")
                }
                printf "  %-58s %8.0f bytes\n", "memory per RRSIG: coordinator", coord_kb * 1024 / c
                printf "  %-58s %8.0f bytes\n", "memory per RRSIG: largest signer", signer_kb * 1024 / c
            }'
    fi
    # Each signer's evaluation of the whole zone: policy checks, the diff against its baseline
    # and the denial records checked against the content (the `evaluated_ms` it logs).
    grep -h "propose:" "$work"/cluster/cluster/logs/signer-*.log 2>/dev/null \
        | sed -n 's/.*evaluated_ms=\([0-9.]*\).*/\1/p' | sort -n \
        | awk 'NR == 1 { lo = $1 } { hi = $1; n++ } END { if (n) printf "signers evaluating the whole zone before approving it: %.1f to %.1f s\n", lo / 1000, hi / 1000 }'
fi
