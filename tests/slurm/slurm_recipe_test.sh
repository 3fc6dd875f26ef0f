#!/usr/bin/env bash
# Integration test of the README's Slurm job-array recipe ("As a Slurm job array"):
#
#   sbatch --array=0-1 job.sh    # job.sh: eqaug run ... --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT --no-report --out DIR
#   eqaug report DIR
#
# It starts a private one-node Slurm cluster on this machine (munged, slurmctld and slurmd,
# all with their keys, sockets, state, pid and log files in a temporary folder, stopped again
# on exit), runs the recipe for real on the CPU and small (perm, 4 runs x 3 epochs, two array
# tasks), runs the same sweep unsharded, and checks that both reports succeed, that every
# per-run CSV, steps.csv and summary.csv are byte-identical, and that the sharded manifest is
# complete with 4 runs.
#
# Needs root (or passwordless sudo, then it re-runs itself under sudo) and Debian's slurm-wlm
# and munge, which it installs with apt-get when missing.
#
# Exit status: 0 pass, 1 failure, 77 skipped (a line "SKIP: <why>" says why: not root, no
# apt-get, packages not installable, the daemons cannot start or run a job here, ...).
#
# Environment:
#   EQAUG_BINARY     the eqaug executable (default: <repo>/build/eqaug)
#   EQAUG_SLURM_KEEP=1  keep the temporary folder (its path is printed)
#
# shellcheck disable=SC2016,SC2317  # the job script's $SLURM_* are literal; cleanup runs from trap
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
script="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
eqaug="${EQAUG_BINARY:-$repo/build/eqaug}"

skip() { echo "SKIP: slurm recipe test: $*"; exit 77; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "PASS: $*"; }
failures=0

# ---------------------------------------------------------------------------------------------
# Root: the daemons (SlurmUser=root, slurmd) need it.
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "not root: re-running under sudo" >&2
    exec sudo -n EQAUG_BINARY="$eqaug" EQAUG_SLURM_KEEP="${EQAUG_SLURM_KEEP:-}" bash "$script" "$@"
  fi
  skip "not root and no passwordless sudo (slurmctld/slurmd and apt-get need root)"
fi

[ -x "$eqaug" ] || { echo "FAIL: eqaug binary not found or not executable: $eqaug (set EQAUG_BINARY or build first)"; exit 1; }
eqaug="$(cd "$(dirname "$eqaug")" && pwd)/$(basename "$eqaug")"

# ---------------------------------------------------------------------------------------------
# Packages (as scripts/deps.sh: only those missing).
packages=(slurm-wlm munge)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  command -v apt-get >/dev/null 2>&1 || skip "packages missing (${missing[*]}) and no apt-get to install them"
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || echo "warning: apt-get update failed; trying the install anyway" >&2
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/slurm-recipe-apt.$$ 2>&1; then
    tail -n 20 /tmp/slurm-recipe-apt.$$ >&2
    rm -f /tmp/slurm-recipe-apt.$$
    skip "apt-get could not install ${missing[*]}"
  fi
  rm -f /tmp/slurm-recipe-apt.$$
fi
for c in munged munge unmunge slurmctld slurmd sbatch sinfo squeue scancel; do
  command -v "$c" >/dev/null 2>&1 || skip "command '$c' not found after installing slurm-wlm and munge"
done

# Nothing inherited from an enclosing Slurm job (SBATCH_* are sbatch's input options).
while read -r v; do unset "$v"; done < <(env | sed -n 's/^\(SLURM_[A-Za-z0-9_]*\|SBATCH_[A-Za-z0-9_]*\|SALLOC_[A-Za-z0-9_]*\|SRUN_[A-Za-z0-9_]*\)=.*/\1/p')

# ---------------------------------------------------------------------------------------------
# Temporary folder and clean-up of everything started here (by pid).
tmp="$(mktemp -d /tmp/eqaug-slurm-test.XXXXXX)" || skip "mktemp failed"
chmod 0755 "$tmp"
munged_pid="" ctld_pid="" slurmd_pid=""
stop_pid() {  # stop_pid PID NAME: TERM, wait up to 15 s, then KILL
  local pid="$1" i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  echo "warning: $2 (pid $pid) did not stop on TERM; killing it" >&2
  kill -KILL "$pid" 2>/dev/null
}
cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  if [ -n "$ctld_pid" ] && kill -0 "$ctld_pid" 2>/dev/null; then
    scancel --quiet --user=root >/dev/null 2>&1 || true       # private cluster: only our jobs
    for ((i = 0; i < 50; i++)); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.2
    done
  fi
  stop_pid "$slurmd_pid" slurmd
  stop_pid "$ctld_pid" slurmctld
  stop_pid "$munged_pid" munged
  if [ "${EQAUG_SLURM_KEEP:-}" = 1 ]; then
    echo "kept $tmp" >&2
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

show_logs() {  # the daemons' and jobs' logs, for a failure or a skip
  local f
  for f in "$tmp"/munge/munged.log "$tmp"/log/slurmctld.log "$tmp"/log/slurmd.log "$tmp"/log/*.stdout "$tmp"/job-*.out; do
    [ -s "$f" ] || continue
    case "$f" in  # a daemon's stdout repeats its log file: only when that is empty
      */munged.stdout) [ -s "$tmp/munge/munged.log" ] && continue ;;
      */slurmctld.stdout) [ -s "$tmp/log/slurmctld.log" ] && continue ;;
      */slurmd.stdout) [ -s "$tmp/log/slurmd.log" ] && continue ;;
    esac
    echo "----- ${f#"$tmp"/} (last 30 lines)"
    tail -n 30 "$f"
  done
  echo "-----"
}
skip_logs() { show_logs; skip "$@"; }

# ---------------------------------------------------------------------------------------------
# munged with a key made for this test.
mkdir -p "$tmp/munge" "$tmp/munge-run" "$tmp/log" "$tmp/state" "$tmp/spool" "$tmp/run"
chmod 0700 "$tmp/munge" "$tmp/state" "$tmp/spool"
chmod 0755 "$tmp/munge-run"   # munged wants the socket's folder searchable by all
key="$tmp/munge/munge.key"
sock="$tmp/munge-run/munge.socket"
dd if=/dev/urandom of="$key" bs=1 count=1024 status=none || skip "could not write a munge key"
chown root:root "$key"
chmod 0400 "$key"

munged_help="$(munged --help 2>&1 || true)"
if grep -q -- '--key-file' <<<"$munged_help" && grep -q -- '--socket' <<<"$munged_help" &&
   grep -q -- '--pid-file' <<<"$munged_help" && grep -q -- '--log-file' <<<"$munged_help" &&
   grep -q -- '--foreground' <<<"$munged_help"; then
  seed=()
  grep -q -- '--seed-file' <<<"$munged_help" && seed=(--seed-file="$tmp/munge/munged.seed")
  munged --foreground --key-file="$key" --socket="$sock" --pid-file="$tmp/munge/munged.pid" \
    --log-file="$tmp/munge/munged.log" "${seed[@]}" >"$tmp/log/munged.stdout" 2>&1 &
  munged_pid=$!
else
  # An older munged: the system's key, socket and paths.
  sock=/run/munge/munge.socket.2
  [ -e /var/run/munge/munge.socket.2 ] && sock=/var/run/munge/munge.socket.2
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    [ -r /etc/munge/munge.key ] || skip "this munged has no --key-file/--socket options and /etc/munge/munge.key is missing"
    mkdir -p /run/munge
    munged >"$tmp/log/munged.stdout" 2>&1 || skip_logs "munged (system paths) did not start"
    for ((i = 0; i < 50; i++)); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
    munged_pid="$(cat /run/munge/munged.pid 2>/dev/null || true)"
  fi
fi
for ((i = 0; i < 100; i++)); do
  munge --socket="$sock" -n 2>/dev/null | unmunge --socket="$sock" >/dev/null 2>&1 && break
  [ -n "$munged_pid" ] && ! kill -0 "$munged_pid" 2>/dev/null && skip_logs "munged exited at start"
  sleep 0.1
done
munge --socket="$sock" -n 2>/dev/null | unmunge --socket="$sock" >/dev/null 2>&1 ||
  skip_logs "munged does not answer on $sock within 10 s"

# ---------------------------------------------------------------------------------------------
# slurm.conf for one node: this machine.
node="$(hostname -s)"
[ -n "$node" ] || skip "hostname -s is empty"
cpus="$(nproc)"
mem_mb=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))
mem_mb=$((mem_mb * 95 / 100))   # a little under the total: slurmd drains a node with more than it has
addr=127.0.0.1
if getent hosts "$node" >/dev/null 2>&1; then addr="$(getent hosts "$node" | awk '{print $1; exit}')"; fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ctld_port="" slurmd_port=""
for ((i = 0; i < 200; i++)); do
  p=$((20000 + (RANDOM * 32768 + RANDOM + $$) % 40000))
  if port_free "$p" && port_free $((p + 1)); then ctld_port=$p; slurmd_port=$((p + 1)); break; fi
done
[ -n "$ctld_port" ] || skip "no two free TCP ports found for slurmctld and slurmd"

conf="$tmp/slurm.conf"
cat >"$conf" <<EOF
# Private one-node cluster of tests/slurm/slurm_recipe_test.sh
ClusterName=eqaugtest
SlurmctldHost=$node($addr)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/run/slurmctld.pid
SlurmdPidFile=$tmp/run/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
TmpFS=$tmp
MailProg=/bin/true
PlugStackConfig=$tmp/plugstack.conf
NodeName=$node NodeAddr=$addr CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=eqaugtest Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
: >"$tmp/plugstack.conf"
export SLURM_CONF="$conf"

slurmctld -D -c -f "$conf" >"$tmp/log/slurmctld.stdout" 2>&1 &
ctld_pid=$!
slurmd -D -f "$conf" >"$tmp/log/slurmd.stdout" 2>&1 &
slurmd_pid=$!

# Bounded wait for the node to be idle.
state=""
for ((i = 0; i < 120; i++)); do
  kill -0 "$ctld_pid" 2>/dev/null || skip_logs "slurmctld exited at start"
  kill -0 "$slurmd_pid" 2>/dev/null || skip_logs "slurmd exited at start"
  state="$(sinfo -h -N -n "$node" -o %T 2>/dev/null | head -n 1)"
  [ "$state" = idle ] && break
  sleep 0.5
done
if [ "$state" != idle ]; then
  sinfo -N -o '%N %T %E' 2>&1 || true
  skip_logs "node $node not idle within 60 s (state: '${state:-no answer from slurmctld}')"
fi
echo "cluster up: node $node, $cpus CPU(s), ${mem_mb} MB, slurmctld :$ctld_port, slurmd :$slurmd_port ($tmp)"

# Can this machine run a Slurm job at all? If not, it is the environment, not the recipe.
if ! timeout 120 sbatch --quiet --wait --chdir="$tmp" --output="$tmp/job-probe.out" --time=00:02:00 \
     --wrap 'echo probe ok' >"$tmp/log/probe.stdout" 2>&1 || ! grep -q 'probe ok' "$tmp/job-probe.out" 2>/dev/null; then
  cat "$tmp/log/probe.stdout"
  skip_logs "slurm is up but cannot run a trivial job here"
fi

# ---------------------------------------------------------------------------------------------
# The README's recipe, on the CPU and small: a two-task job array, then eqaug report.
runs=4 epochs=3
sharded="$tmp/sharded" whole="$tmp/whole"
{
  echo '#!/bin/bash'
  echo '#SBATCH --time=00:15:00'
  printf 'cd %q || exit 1\n' "$tmp"
  printf '%q run perm --runs %d --epochs %d --threads 1 --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT --no-report --out %q\n' \
    "$eqaug" "$runs" "$epochs" "$sharded"
  echo 'rc=$?'
  echo 'echo "$rc" > "task-$SLURM_ARRAY_TASK_ID.rc"'
  echo 'exit "$rc"'
} >"$tmp/job.sh"
chmod 0755 "$tmp/job.sh"

t0=$SECONDS
timeout 900 sbatch --wait --array=0-1 --chdir="$tmp" --output="$tmp/job-%A_%a.out" "$tmp/job.sh" >"$tmp/log/sbatch.stdout" 2>&1
sbatch_rc=$?
cat "$tmp/log/sbatch.stdout"
if [ "$sbatch_rc" -eq 0 ] && [ "$(cat "$tmp/task-0.rc" 2>/dev/null)" = 0 ] && [ "$(cat "$tmp/task-1.rc" 2>/dev/null)" = 0 ]; then
  pass "sbatch --wait --array=0-1 (eqaug run perm --shard \$SLURM_ARRAY_TASK_ID/\$SLURM_ARRAY_TASK_COUNT): both tasks exit 0 ($((SECONDS - t0)) s)"
else
  fail "job array: sbatch exit $sbatch_rc, task 0 exit '$(cat "$tmp/task-0.rc" 2>/dev/null)', task 1 exit '$(cat "$tmp/task-1.rc" 2>/dev/null)' (job outputs below)"
fi

if "$eqaug" report "$sharded" >"$tmp/log/report-sharded.stdout" 2>&1; then
  pass "eqaug report <sharded>"
else
  fail "eqaug report <sharded> exited $?"; tail -n 20 "$tmp/log/report-sharded.stdout"
fi

# The same sweep in one process.
t0=$SECONDS
if (cd "$tmp" && "$eqaug" run perm --runs "$runs" --epochs "$epochs" --threads 1 --no-report --out "$whole") >"$tmp/log/run-whole.stdout" 2>&1; then
  pass "eqaug run perm unsharded ($((SECONDS - t0)) s)"
else
  fail "eqaug run perm unsharded exited $?"; tail -n 20 "$tmp/log/run-whole.stdout"
fi
if "$eqaug" report "$whole" >"$tmp/log/report-whole.stdout" 2>&1; then
  pass "eqaug report <whole>"
else
  fail "eqaug report <whole> exited $?"; tail -n 20 "$tmp/log/report-whole.stdout"
fi

# Byte-identical files.
files=(steps.csv summary.csv)
for m in nom aug equi; do
  for ((r = 0; r < runs; r++)); do files+=("$(printf '%s/run-%03d.csv' "$m" "$r")"); done
done
bad=()
for f in "${files[@]}"; do
  if [ ! -f "$sharded/$f" ] || [ ! -f "$whole/$f" ]; then bad+=("$f (missing)")
  elif ! cmp -s "$sharded/$f" "$whole/$f"; then bad+=("$f (differs)"); fi
done
if ((${#bad[@]} == 0)); then
  pass "${#files[@]} files identical between the sharded and the unsharded sweep (steps.csv, summary.csv, {nom,aug,equi}/run-000..$(printf '%03d' $((runs - 1))).csv)"
else
  fail "sharded vs unsharded: ${bad[*]}"
fi

# The sharded manifest: complete, with every run.
manifest="$sharded/manifest.json"
if [ ! -f "$manifest" ]; then
  fail "$manifest missing"
else
  if command -v jq >/dev/null 2>&1; then
    complete="$(jq -r '.complete' "$manifest" 2>/dev/null)"
    nruns="$(jq -r '[.runs[].run] | unique | length' "$manifest" 2>/dev/null)"
  elif command -v python3 >/dev/null 2>&1; then
    complete="$(python3 -c 'import json,sys; print(str(json.load(open(sys.argv[1]))["complete"]).lower())' "$manifest" 2>/dev/null)"
    nruns="$(python3 -c 'import json,sys; print(len({r["run"] for r in json.load(open(sys.argv[1]))["runs"]}))' "$manifest" 2>/dev/null)"
  else
    complete="$(grep -q '"complete": true' "$manifest" && echo true || echo false)"
    nruns="$(grep -o '"run": [0-9]*' "$manifest" | sort -u | wc -l)"
  fi
  if [ "$complete" = true ] && [ "$nruns" = "$runs" ]; then
    pass "sharded manifest.json: \"complete\": true, $nruns runs"
  else
    fail "sharded manifest.json: complete='$complete', runs='$nruns' (want true, $runs)"
  fi
fi

if ((failures)); then
  show_logs
  echo "FAIL: slurm recipe test: $failures check(s) failed"
  exit 1
fi
echo "PASS: slurm recipe test"
exit 0
