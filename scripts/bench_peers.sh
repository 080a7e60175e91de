#!/usr/bin/env bash
# Same-machine timing of poolguard against the peer tools of the shared benchmark harness
# (../shared/bench: README.md, run_peers.sh). The harness is only read: it is copied into a
# scratch folder, poolguard is added there as one more peer, and the run happens there.
#
#   scripts/bench_peers.sh                                  # re-run poolguard + peers, print a table
#   INSTALL=1 CORPORA="real s2000" RUNS=3 scripts/bench_peers.sh   # install the peers first (~10 min)
#   RECORDED=1 scripts/bench_peers.sh                       # time only poolguard; peers from results/timings.jsonl
#
# Environment (all optional):
#   BENCH_DIR   the harness folder                       default: ../shared/bench (from the repo root)
#   POOLGUARD   poolguard binary                         default: target/release/poolguard
#               (built with `cargo build --release` when the default is missing)
#   CORPORA     real and/or sN (synthetic, N services)   default: "real s2000"
#   PEERS       peers to show (and re-run)               default: "poolguard regorus opa-engine spectral yamllint"
#               (regorus = the harness's PyYAML->JSON bundle step `regorus-bundle` + one `regorus eval`)
#   RUNS        hyperfine runs per (peer, corpus)        default: 5 (the harness caps slow peers)
#   RECORDED    1 = run no peer; time poolguard only and compare with $BENCH_DIR/results/timings.jsonl
#   INSTALL     1 = run the harness's install_peers.sh in the scratch copy when there are no
#               installed peers (the scratch folder is then kept, and PEERS_DIR=<it>/.peers
#               reuses it next time)
#   PEERS_DIR   installed peers to reuse (symlinked)     default: $BENCH_DIR/.peers
#   REAL        real-world corpus                        default: $BENCH_DIR/../corpus-real
#   KEEP        1 = keep the scratch folder (raw output, the harness's summary.md)
#
# poolguard runs as `poolguard check --format json DIR` (report on stdout). It exits 1 when it
# finds errors, which is expected here. It walks files on every core; most peers use one.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-../shared/bench}
[ -f "$BENCH_DIR/run_peers.sh" ] || { echo "bench_peers: no run_peers.sh in $BENCH_DIR (set BENCH_DIR)" >&2; exit 2; }
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
CORPORA=${CORPORA:-"real s2000"}
PEERS=${PEERS:-"poolguard regorus opa-engine spectral yamllint"}
RUNS=${RUNS:-5}
RECORDED=${RECORDED:-0}
INSTALL=${INSTALL:-0}
KEEP=${KEEP:-0}
PEERS_DIR=${PEERS_DIR:-$BENCH_DIR/.peers}
REAL=${REAL:-$BENCH_DIR/../corpus-real}
if [ -d "$REAL" ]; then REAL=$(cd "$REAL" && pwd); fi

# --- poolguard binary ----------------------------------------------------------------------
if [ -z "${POOLGUARD:-}" ]; then
  POOLGUARD=target/release/poolguard
  if [ ! -x "$POOLGUARD" ]; then
    echo "bench_peers: building poolguard (cargo build --release)" >&2
    nice -n 10 cargo build --release >&2
  fi
fi
[ -x "$POOLGUARD" ] || { echo "bench_peers: $POOLGUARD is not an executable" >&2; exit 2; }
POOLGUARD=$(cd "$(dirname "$POOLGUARD")" && pwd)/$(basename "$POOLGUARD")
export POOLGUARD

command -v hyperfine >/dev/null || { echo "bench_peers: needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }

# --- scratch copy of the harness -----------------------------------------------------------
S=$(mktemp -d "${TMPDIR:-/tmp}/bench_peers.XXXXXX")
cleanup() {
  if [ "$KEEP" = 1 ] || [ "$INSTALL" = 1 ]; then
    echo "bench_peers: scratch folder kept: $S" >&2
  else
    rm -rf "$S"
  fi
}
trap cleanup EXIT
# everything but installed peers, generated corpora and old raw output; results/timings.jsonl
# comes along (RECORDED=1 reads it), but the runs here write to a fresh $S/out
tar -C "$BENCH_DIR" --exclude=./.peers --exclude=./corpus-synth --exclude=./corpus-broken \
    --exclude=./results/raw --exclude=./results/broken-dirs -cf - . | tar -C "$S" -xf -
chmod -R u+w "$S"
# generated corpora already in the harness are reused read-only; missing ones are made in $S
mkdir -p "$S/corpus-synth"
if [ -d "$BENCH_DIR/corpus-synth" ]; then
  for f in "$BENCH_DIR"/corpus-synth/*; do
    if [ -e "$f" ]; then ln -s "$f" "$S/corpus-synth/"; fi
  done
fi
OUT=$S/out
mkdir -p "$OUT/raw"

corpus_dir() {
  case $1 in
    real) echo "$REAL" ;;
    s[0-9]*) echo "$S/corpus-synth/$1" ;;
    *) echo "bench_peers: unknown corpus $1" >&2; return 1 ;;
  esac
}

STARTED=$(date '+%Y-%m-%d %H:%M:%S %Z')
T0=$(date +%s)
if [ "$RECORDED" = 1 ]; then
  # --- poolguard only, the same way run_peers.sh measures a peer ---------------------------
  for c in $CORPORA; do
    d=$(corpus_dir "$c")
    if [ ! -d "$d" ]; then
      case $c in
        s[0-9]*) python3 "$S/gen_corpus.py" --services "${c#s}" --out "$d" >&2 ;;
        *) echo "bench_peers: missing corpus folder $d" >&2; exit 2 ;;
      esac
    fi
    cmd="'$POOLGUARD' check --format json '$d'"
    echo ">> poolguard on $c" >&2
    g=$(python3 "$S/drivers/guard.py" --timeout 1800 --stdout "$OUT/raw/poolguard.$c.out" \
          --stderr "$OUT/raw/poolguard.$c.err" -- bash -c "$cmd")
    hyperfine --runs "$RUNS" --ignore-failure --style none --shell bash \
      --export-json "$OUT/raw/poolguard.$c.hyperfine.json" "$cmd" >/dev/null 2>&1 </dev/null
    python3 - "$c" "$d" "$g" "$OUT" >> "$OUT/timings.jsonl" <<'EOF'
import json, os, statistics, sys
c, d, g, out = sys.argv[1:5]
g = json.loads(g)
files = sum(1 for r, _, fs in os.walk(d) for f in fs if f.endswith((".yaml", ".yml")))
res = json.load(open(os.path.join(out, "raw", "poolguard.%s.hyperfine.json" % c)))["results"][0]
t = res["times"]
print(json.dumps({"peer": "poolguard", "corpus": c, "files": files, "runs": len(t),
                  "median_s": round(statistics.median(t), 3), "min_s": round(min(t), 3),
                  "max_s": round(max(t), 3), "tree_peak_rss_mb": g["tree_peak_rss_mb"],
                  "rc": g["rc"], "killed": g["killed"], "cpu_s": round(res["user"] + res["system"], 3),
                  "load1": os.getloadavg()[0]}))
EOF
  done
  RECORDS=$BENCH_DIR/results/timings.jsonl
else
  # --- installed peers -------------------------------------------------------------------
  if [ -d "$PEERS_DIR" ]; then
    ln -s "$(cd "$PEERS_DIR" && pwd)" "$S/.peers"
  elif [ "$INSTALL" = 1 ]; then
    echo "bench_peers: installing the peers into $S/.peers (install_peers.sh, nice 10)" >&2
    (cd "$S" && nice -n 10 ./install_peers.sh) >&2
    # let the build's load die down before timing anything (at most 3 min)
    for _ in $(seq 36); do
      awk '{exit !($1 < 1.0)}' /proc/loadavg && break
      sleep 5
    done
  else
    echo "bench_peers: no installed peers at $PEERS_DIR: set INSTALL=1 or PEERS_DIR, or use RECORDED=1" >&2
    exit 2
  fi

  # --- poolguard as one more peer of the scratch run_peers.sh ----------------------------
  # The original available()/peer_cmd() are kept under new names and wrapped, just before
  # the main loop, so the patch does not depend on their exact text.
  cat > "$S/poolguard_peer.sh" <<'EOF'
# --- added by poolguard's scripts/bench_peers.sh ---
eval "orig_$(declare -f available)"
eval "orig_$(declare -f peer_cmd)"
available() { if [ "$1" = poolguard ]; then [ -x "$POOLGUARD" ]; else orig_available "$@"; fi; }
peer_cmd() { if [ "$1" = poolguard ]; then echo "'$POOLGUARD' check --format json '$2'"; else orig_peer_cmd "$@"; fi; }
# --- end ---
EOF
  awk -v f="$S/poolguard_peer.sh" '
    !done && /^if \[ "\$BROKEN_ONLY" != 1 \]/ { while ((getline l < f) > 0) print l; done = 1 }
    { print }
    END { if (!done) exit 1 }' "$BENCH_DIR/run_peers.sh" > "$S/run_peers.sh" \
    || { echo "bench_peers: run_peers.sh has changed: no main loop to patch" >&2; exit 2; }
  sed -i 's/^PEER_LIST="/PEER_LIST="poolguard /' "$S/run_peers.sh"
  grep -q '^PEER_LIST="poolguard ' "$S/run_peers.sh" \
    || { echo "bench_peers: run_peers.sh has changed: no PEER_LIST to patch" >&2; exit 2; }
  chmod +x "$S/run_peers.sh"

  STARTED=$(date '+%Y-%m-%d %H:%M:%S %Z')  # the timed part starts here, after any install
  T0=$(date +%s)
  # run_peers.sh exits non-zero when a peer fails; the table below still shows what ran
  (cd "$S" && CORPORA="$CORPORA" PEERS="$PEERS" RUNS="$RUNS" BROKEN=0 REAL="$REAL" OUT="$OUT" \
     ./run_peers.sh > "$S/run_peers.log") || echo "bench_peers: run_peers.sh exited $?" >&2
  RECORDS=
fi

# --- table ---------------------------------------------------------------------------------
ELAPSED=$(( $(date +%s) - T0 ))
python3 - "$OUT/timings.jsonl" "${RECORDS:-}" "$CORPORA" "$PEERS" "$OUT" "$STARTED" "$ELAPSED" "$RECORDED" "$BENCH_DIR" <<'EOF'
import json, os, sys
new_path, rec_path, corpora, peers, out, started, elapsed, recorded, bench = sys.argv[1:10]
corpora, peers = corpora.split(), peers.split()

def read(path):
    if not path or not os.path.exists(path):
        return []
    return [json.loads(l) for l in open(path) if l.strip()]

last = {}  # last record per (peer, corpus): recorded first, this run's on top
for src, path in (("recorded", rec_path), ("this run", new_path)):
    for r in read(path):
        r["source"] = src
        last[(r["peer"], r["corpus"])] = r

def rows_for(peer, c):
    if peer == "regorus":  # the bundle step, the eval, and the two together
        b, e = last.get(("regorus-bundle", c)), last.get(("regorus", c))
        rows = [("regorus-bundle (PyYAML -> JSON)", b), ("regorus eval", e)]
        if b and e and not b.get("unavailable") and not e.get("unavailable") \
                and not b.get("killed") and not e.get("killed"):
            rows.append(("regorus total (bundle + eval)", dict(
                b, median_s=b["median_s"] + e["median_s"],
                cpu_s=(b.get("cpu_s") or 0) + (e.get("cpu_s") or 0),
                tree_peak_rss_mb=max(b["tree_peak_rss_mb"], e["tree_peak_rss_mb"]),
                rc=e["rc"], load1=max(b["load1"], e["load1"]))))
        return rows
    return [(peer, last.get((peer, c)))]

print("## poolguard vs. peers (%s; started %s, took %d s)\n" % (
    "poolguard timed now, peers as recorded in results/timings.jsonl" if recorded == "1"
    else "all re-run on this machine", started, int(elapsed)))
print("Median wall time of hyperfine runs; CPU s = mean user+system per run (poolguard uses every core, "
      "most peers one); peak RSS of the whole process tree (one guarded run); "
      "ratio = peer median / poolguard median on the same corpus (> 1: poolguard is faster); "
      "load1 when the row was recorded.\n")
print("| peer | corpus | runs | median wall s | CPU s | files/s | peak RSS MB | ratio | exit | load1 | source |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for c in corpora:
    pg = last.get(("poolguard", c))
    base = pg["median_s"] if pg and not pg.get("unavailable") and not pg.get("killed") else None
    for peer in peers:
        for name, r in rows_for(peer, c):
            if r is None or r.get("unavailable"):
                print("| %s | %s | - | not run / not installed | | | | | | | |" % (name, c))
                continue
            ex = "killed (%s)" % r["killed"] if r.get("killed") else str(r.get("rc"))
            m = r["median_s"]
            cpu = r.get("cpu_s")
            print("| %s | %s | %d | %.3f | %s | %s | %.0f | %s | %s | %.2f | %s |" % (
                name, c, r["runs"], m, "%.2f" % cpu if cpu is not None else "-",
                "%.0f" % (r["files"] / m) if m else "-",
                r["tree_peak_rss_mb"], "%.1f" % (m / base) if base and m else "-", ex,
                r.get("load1", 0), r["source"]))
print()
for c in corpora:  # poolguard's own summary, as a sanity check of what it read
    p = os.path.join(out, "raw", "poolguard.%s.out" % c)
    try:
        s = json.load(open(p))["summary"]
        print("poolguard on %s: %s" % (c, ", ".join("%s %s" % (k, v) for k, v in s.items())))
    except (OSError, ValueError, KeyError):
        pass
EOF
echo
echo "poolguard: $("$POOLGUARD" --version 2>/dev/null || echo '?') ($POOLGUARD); load now: $(cut -d' ' -f1-3 /proc/loadavg); finished $(date '+%Y-%m-%d %H:%M:%S %Z')"
