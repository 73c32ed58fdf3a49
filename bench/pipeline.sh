#!/usr/bin/env bash
# Latency of the zone pipeline: a 3-of-5 cluster (coordinator + 5 signer processes, mutual TLS on
# loopback, release builds) signs the reference zone (tests/src/bin/gen-reference-zone.rs), then
# takes N_DIFFS one-RRset change sets one after another with `frostzone sign --changes`. Each
# diff alternately adds a TXT record at a new name and changes the TXT record the diff before
# added. Per diff it measures the wall time from submission to the validated signed changes
# written (the whole `frostzone sign --changes ... --out-changes FILE` command, TLS connection
# included), and reads the signatures made from the command's summary line. Over all the diffs
# it reports each process's CPU time per diff (user + system, from /proc/PID/stat).
#
# Usage: bench/pipeline.sh [N_DIFFS] [ZONE_SIZE]       (defaults 200 and 100000 delegations)
# Env:   KEEP=1  keep the work directory;  ORIGIN=ref.test.  zone origin;
#        BASE_PORT=7500  the coordinator's port, signers on the next five;
#        TRANSFER=1  also serve the zone by AXFR/IXFR (on BASE_PORT+6, one secondary
#        on loopback to NOTIFY), as a coordinator with public secondaries does;
#        DENIAL=nsec3 (default) | nsec3-opt-out | nsec  the zone's authenticated denial;
#        RESIGN=1  sign the zone whole a second time (--full, as at a rollover) before the diffs,
#        so the first diff follows a whole re-sign of unchanged content;
#        BIN_DIR=DIR  run the binaries in DIR (frostzone, frostzone-coordinator, frostzone-signer,
#        gen-reference-zone) instead of building this tree: an earlier commit's release build,
#        measured side by side with this one.
set -euo pipefail
cd "$(dirname "$0")/.."
n_diffs=${1:-200}
zone_size=${2:-100000}
origin=${ORIGIN:-ref.test.}
base_port=${BASE_PORT:-7500}
[[ $n_diffs =~ ^[1-9][0-9]*$ ]] || { echo "pipeline.sh: N_DIFFS must be a positive number, not $n_diffs" >&2; exit 2; }
[[ $zone_size =~ ^[0-9]+$ ]] || { echo "pipeline.sh: ZONE_SIZE must be a number, not $zone_size" >&2; exit 2; }
denial=${DENIAL:-nsec3}
case $denial in
    nsec3) denial_flag=() ;;
    nsec3-opt-out) denial_flag=(--nsec3-opt-out) ;;
    nsec) denial_flag=(--nsec) ;;
    *) echo "pipeline.sh: DENIAL must be nsec3, nsec3-opt-out or nsec, not $denial" >&2; exit 2 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/frostzone-pipeline.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "${KEEP:-0}" = 1 ]; then echo "work directory: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

if [ -n "${BIN_DIR:-}" ]; then
    bin=$BIN_DIR
    for b in frostzone frostzone-coordinator frostzone-signer gen-reference-zone; do
        [ -x "$bin/$b" ] || { echo "pipeline.sh: BIN_DIR=$bin has no $b" >&2; exit 2; }
    done
else
    echo "building (release) ..." >&2
    cargo build --release -q --bins -p frostzone-cli -p frostzone-coordinator -p frostzone-signer-node -p frostzone-tests
    target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
    bin=$target/release
fi

# --- the cluster: certificates from `frostzone certs init`, configs as tests/src/cluster.rs writes
# them, every signer approving by policy (a routine diff signs without anyone touching it).
c=$work/cluster
"$bin/frostzone" certs init --dir "$c" --signers 5 > "$work/certs.log" 2>&1 || { cat "$work/certs.log" >&2; exit 1; }
mkdir -p "$c/coordinator/data" "$c/logs"
{
    printf 'version = 1\nlisten = "127.0.0.1:%s"\ndata_dir = "coordinator/data"\nthreshold = 3\n\n' "$base_port"
    printf '[tls]\nca = "ca.pem"\ncert = "coordinator.pem"\nkey = "coordinator.key"\n\n'
    printf '[[operators]]\nname = "operator"\ncert = "operator.pem"\n'
    for k in 1 2 3 4 5; do
        printf '\n[[signers]]\nname = "signer-%s"\nparticipant = %s\nendpoint = "https://127.0.0.1:%s"\n' "$k" "$k" $((base_port + k))
    done
    if [ "${TRANSFER:-0}" = 1 ]; then
        printf '\n[transfer]\nlisten = "127.0.0.1:%s"\n[[transfer.secondaries]]\naddress = "127.0.0.1:%s"\n' $((base_port + 6)) $((base_port + 7))
    fi
} > "$c/coordinator.toml"
for k in 1 2 3 4 5; do
    mkdir -p "$c/signer-$k/data"
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$c/signer-$k/passphrase"
    chmod 600 "$c/signer-$k/passphrase"
    printf 'version = 1\n[approval]\nkey_changes = "auto"\nkey_ceremonies = "auto"\nmax_rrsets_changed = 100000000\nmax_names_added = 100000000\nmax_names_removed = 100000000\nmax_ds_changed = 100000000\n' \
        > "$c/signer-$k/policy.toml"
    # Opt-Out is refused unless a signer's policy accepts it.
    [ "$denial" = nsec3-opt-out ] && printf '[nsec3]\nopt_out = true\n' >> "$c/signer-$k/policy.toml"
    printf 'version = 1\nname = "signer-%s"\nparticipant = %s\nlisten = "127.0.0.1:%s"\ndata_dir = "signer-%s/data"\npassphrase_file = "signer-%s/passphrase"\nroster = "roster.toml"\npolicy = "signer-%s/policy.toml"\n\n[tls]\nca = "ca.pem"\ncert = "signer-%s.pem"\nkey = "signer-%s.key"\ncoordinator_cert = "coordinator.pem"\n' \
        "$k" "$k" $((base_port + k)) "$k" "$k" "$k" "$k" "$k" > "$c/signer-$k.toml"
    # Each signer's identity key (made in its store), for the roster every signer checks.
    (cd "$c" && "$bin/frostzone-signer" --config "$c/signer-$k.toml" identity > "$c/signer-$k/identity.toml")
done
"$bin/frostzone" roster init --threshold 3 --out "$c/roster.toml" "$c"/signer-*/identity.toml > /dev/null
start() { # NAME PROGRAM
    (cd "$c" && exec "$2" --config "$c/$1.toml" >> "$c/logs/$1.log" 2>&1) &
    pids+=($!)
}
for k in 1 2 3 4 5; do start "signer-$k" "$bin/frostzone-signer"; done
start coordinator "$bin/frostzone-coordinator"

fz() { "$bin/frostzone" --coordinator "https://127.0.0.1:$base_port" --tls-dir "$c" "$@"; }
deadline=$((SECONDS + 60))
until fz status 2>/dev/null | grep -q "signers: 5 of 5 reachable"; do
    if [ $SECONDS -gt $deadline ]; then
        echo "pipeline.sh: the cluster is not ready after 60 s; its logs:" >&2
        tail -n 5 "$c"/logs/*.log >&2
        exit 1
    fi
    sleep 0.3
done
fz keys generate --zone "$origin" --role ksk > /dev/null
fz keys generate --zone "$origin" --role zsk > /dev/null

# --- version 1: the reference zone, signed whole.
"$bin/gen-reference-zone" --delegations "$zone_size" --origin "$origin" > "$work/ref.zone"
echo "reference zone: $zone_size delegations, $(wc -l < "$work/ref.zone") lines; signing it whole ..." >&2
t0=$(date +%s.%N)
fz sign --zone "$origin" --file "$work/ref.zone" "${denial_flag[@]}" --out "$work/v1.signed" > "$work/v1.out"
t1=$(date +%s.%N)
serial=$(sed -n 's/^serial \([0-9]*\): .*/\1/p' "$work/v1.out")
full_made=$(sed -n 's/^serial [0-9]*: \([0-9]*\) signatures made.*/\1/p' "$work/v1.out")
echo "version 1: serial $serial, $full_made signatures, $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s" >&2
if [ "${RESIGN:-0}" = 1 ]; then
    # --- version 2: the same zone signed whole again, as at a rollover or a recovery; the
    # first diff then follows a whole version whose RRsets barely changed.
    t0=$(date +%s.%N)
    fz sign --zone "$origin" --file "$work/ref.zone" --full --out "$work/v2.signed" > "$work/v2.out"
    t1=$(date +%s.%N)
    serial=$(sed -n 's/^serial \([0-9]*\): .*/\1/p' "$work/v2.out")
    echo "version 2 (--full): serial $serial, $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s" >&2
fi

# --- the diffs.
soa_line() { # SERIAL
    printf '%s 3600 IN SOA ns1.%s hostmaster.%s %s 7200 3600 1209600 300\n' "$origin" "$origin" "$origin" "$1"
}
# Each process's CPU time (user + system, clock ticks) before the first diff, for the CPU per diff.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_before=()
for k in "${!pids[@]}"; do cpu_before[$k]=$(cpu_ticks "${pids[$k]}"); done
: > "$work/results"
for i in $(seq 1 "$n_diffs"); do
    f=$work/diff-$i.ixfr
    if [ $((i % 2)) = 1 ]; then
        # A TXT record at a new name.
        { soa_line "$serial"; soa_line $((serial + 1)); printf 'bench%s.%s 300 IN TXT "diff %s"\n' "$i" "$origin" "$i"; } > "$f"
    else
        # The TXT record the diff before added, changed.
        { soa_line "$serial"; printf 'bench%s.%s 300 IN TXT "diff %s"\n' $((i - 1)) "$origin" $((i - 1))
          soa_line $((serial + 1)); printf 'bench%s.%s 300 IN TXT "diff %s, changed"\n' $((i - 1)) "$origin" "$i"; } > "$f"
    fi
    start_ns=$(date +%s%N)
    if ! fz sign --zone "$origin" --changes "$f" --out-changes "$work/diff-$i.signed.ixfr" > "$work/diff-$i.out" 2> "$work/diff-$i.err"; then
        echo "pipeline.sh: diff $i failed:" >&2
        cat "$work/diff-$i.err" >&2
        exit 1
    fi
    end_ns=$(date +%s%N)
    made=$(sed -n 's/^serial [0-9]*: \([0-9]*\) signatures made.*/\1/p' "$work/diff-$i.out")
    new_serial=$(sed -n 's/^serial \([0-9]*\): .*/\1/p' "$work/diff-$i.out")
    [ "$new_serial" = $((serial + 1)) ] || { echo "pipeline.sh: diff $i published serial $new_serial, expected $((serial + 1))" >&2; exit 1; }
    [ -s "$work/diff-$i.signed.ixfr" ] || { echo "pipeline.sh: diff $i wrote no signed changes" >&2; exit 1; }
    serial=$new_serial
    echo "$(( (end_ns - start_ns) / 1000 )) $made" >> "$work/results"
done
cpu_after=()
for k in "${!pids[@]}"; do cpu_after[$k]=$(cpu_ticks "${pids[$k]}"); done

# --- the table: percentiles by nearest rank.
printf '\nzone pipeline, 3-of-5 cluster, mutual TLS on loopback, %s cores\n' "$(nproc)"
printf 'reference zone: %s delegations, %s (%s signatures in version 1); %s one-RRset diffs%s%s\n' "$zone_size" "$denial" "$full_made" "$n_diffs" \
    "$([ "${RESIGN:-0}" = 1 ] && echo ' after a whole re-sign (--full)')" \
    "$([ "${TRANSFER:-0}" = 1 ] && echo '; served by AXFR/IXFR with NOTIFY')"
sort -n -k1,1 "$work/results" | awk '
    { t[NR] = $1 / 1000 }
    function rank(p) { r = int(p * NR + 0.999999); return r < 1 ? 1 : (r > NR ? NR : r) }
    END {
        printf "latency, submission to validated signed changes written (ms):\n"
        printf "  %-8s %10.1f\n", "median", t[rank(0.50)]
        printf "  %-8s %10.1f\n", "p90", t[rank(0.90)]
        printf "  %-8s %10.1f\n", "p99", t[rank(0.99)]
        printf "  %-8s %10.1f\n", "max", t[NR]
    }'
# The same diffs as the coordinator timed them: from the request taken up to the version published
# (signed, validated, stored), without the command's own start and its TLS connection.
grep -h "published serial .* (changes) " "$c/logs/coordinator.log" | sed -n 's/.*elapsed_ms=\([0-9.]*\).*/\1/p' | sort -n > "$work/server"
[ -s "$work/server" ] && awk '
    { t[NR] = $1 }
    function rank(p) { r = int(p * NR + 0.999999); return r < 1 ? 1 : (r > NR ? NR : r) }
    END {
        printf "in the coordinator, request to version published (ms): median %.1f, p90 %.1f, p99 %.1f, max %.1f (%d)\n", t[rank(0.5)], t[rank(0.9)], t[rank(0.99)], t[NR], NR
    }' "$work/server"
# Where that time went: the approval (proposals out, every signer's decision in and on record)
# and the signing (the FROST rounds and aggregation), from each diff's "steps:" summary (logged
# to the millisecond, so the means say more than the medians).
grep -h "published serial .* (changes) " "$c/logs/coordinator.log" \
    | sed -n 's/.*approval \([0-9.]*\) s, signing \([0-9.]*\) s,.*elapsed_ms=\([0-9.]*\).*/\1 \2 \3/p' > "$work/steps"
[ -s "$work/steps" ] && awk '
    { a[NR] = $1 * 1000; s[NR] = $2 * 1000; r[NR] = $3 - $1 * 1000 - $2 * 1000; sa += a[NR]; ss += s[NR]; sr += r[NR] }
    function median(x,   n, i, j, v) {
        n = NR
        for (i = 2; i <= n; i++) { v = x[i]; for (j = i - 1; j >= 1 && x[j] > v; j--) x[j + 1] = x[j]; x[j + 1] = v }
        return x[int((n + 1) / 2)]
    }
    END {
        printf "  of that, mean / median (ms): approval %.1f / %.0f, signing %.1f / %.0f, the rest %.1f / %.1f\n", sa / NR, median(a), ss / NR, median(s), sr / NR, median(r)
    }' "$work/steps"
# What the signers spent evaluating each proposal (checks, diff, denial records: the
# `evaluated_ms` of their "propose" log lines) and, of that, checking its denial records against
# the content (`denial_check_ms`), full and incremental, over all five.
field() { # true|false FIELD
    grep -h "propose:" "$c"/logs/signer-*.log | grep -a "incremental=$1" \
        | sed -n "s/.*$2=\\([0-9.]*\\).*/\\1/p" | sort -n
}
stats() { # LABEL FILE
    [ -s "$2" ] && awk -v l="$1" '{ t[NR] = $1 } END {
        printf "  %-44s median %9.2f ms, p99 %9.2f ms, max %9.2f ms (%d)\n", l, t[int((NR + 1) / 2)], t[int(0.99 * NR + 0.999999)], t[NR], NR }' "$2"
}
echo "signers (five, each proposal), evaluating / of that, checking the denial records:"
for kind in false true; do
    label=$([ "$kind" = true ] && echo "a one-RRset increment" || echo "the whole version")
    field "$kind" evaluated_ms > "$work/eval-$kind"
    field "$kind" denial_check_ms > "$work/denial-$kind"
    stats "$label: evaluated" "$work/eval-$kind" || true
    stats "$label: denial records" "$work/denial-$kind" || true
done
chain=NSEC3; [ "$denial" = nsec ] && chain=NSEC
sort -n -k2,2 "$work/results" | awk -v chain="$chain" '
    { m[NR] = $2; sum += $2 }
    END {
        printf "signatures made per diff: median %d, mean %.1f, max %d\n", m[int((NR + 1) / 2)], sum / NR, m[NR]
        printf "  (a new name: its TXT, its %s, the %s before it, the SOA; a change: the TXT, the SOA)\n", chain, chain
    }'
names=(signer-1 signer-2 signer-3 signer-4 signer-5 coordinator)
# CPU per diff, every process over the span of all the diffs (the signers' work on each
# publication included): on one box the processes share the cores, so this bounds the latency.
hz=$(getconf CLK_TCK)
for k in "${!pids[@]}"; do echo "${names[$k]} $(( ${cpu_after[$k]} - ${cpu_before[$k]} ))"; done | awk -v hz="$hz" -v n="$n_diffs" '
    { name[NR] = $1; ms[NR] = $2 * 1000 / hz / n; all += ms[NR] }
    END {
        printf "CPU per diff (ms, user + system, over all %d diffs):", n
        for (i = 1; i <= NR; i++) printf " %s %.1f", name[i], ms[i]
        printf ", all %.1f\n", all
    }'
# Peak resident memory of every process over the whole run (the whole version, its publication
# into the signers' baselines, the diffs), from /proc before the processes are stopped.
printf 'peak memory (VmHWM):'
for k in "${!pids[@]}"; do
    printf ' %s %s MB' "${names[$k]}" "$(awk '/^VmHWM/ { printf "%d", $2 / 1024 }' "/proc/${pids[$k]}/status" 2>/dev/null || echo '?')"
done
printf '\n'
