# Shared helpers for loadtest/run.sh: logging, process tracking, ports, CPU accounting.
# Sourced, not run. Every background process goes through `spawn`, so `cleanup` (the EXIT
# trap) can stop exactly the processes this run started, by pid.

SPAWNED_PIDS=()
CLEANUP_DIRS=() # removed on exit (e.g. a scenario's generated files)

log() { printf '[loadtest %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# spawn VAR LOGFILE CMD... — start CMD in the background (stdout+stderr → LOGFILE), pid → VAR.
spawn() {
  local -n pid_ref=$1
  local logfile=$2
  shift 2
  "$@" >"$logfile" 2>&1 &
  pid_ref=$!
  SPAWNED_PIDS+=("$pid_ref")
}

# stop_pid PID — SIGTERM, up to 5 s to exit, then SIGKILL.
stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  log "pid $pid ignored SIGTERM; killing"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid d
  for pid in "${SPAWNED_PIDS[@]}"; do stop_pid "$pid"; done
  SPAWNED_PIDS=()
  [[ -n ${TMP_DIR:-} && -d $TMP_DIR ]] && rm -rf "$TMP_DIR"
  for d in "${CLEANUP_DIRS[@]}"; do [[ -d $d ]] && rm -rf "$d"; done
  [[ -n ${AUTOGROUP_NICE:-} ]] && echo "$AUTOGROUP_NICE" >/proc/self/autogroup
  return 0
}

# wait_for_line FILE REGEX PID [SECONDS] — first match of REGEX in FILE, while PID lives.
wait_for_line() {
  local file=$1 regex=$2 pid=$3 secs=${4:-15} i line
  for ((i = 0; i < secs * 10; i++)); do
    line=$(grep -m1 -E "$regex" "$file" 2>/dev/null || true)
    [[ -n $line ]] && { printf '%s\n' "$line"; return 0; }
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# free_port — a TCP port with no listener on 127.0.0.1 (for servers that cannot take 0).
free_port() {
  local port i
  for ((i = 0; i < 100; i++)); do
    port=$((20000 + RANDOM % 30000))
    [[ -z $(ss -Htln "sport = :$port") ]] && { echo "$port"; return 0; }
  done
  die "no free port found"
}

# stat_cpu_ticks FILE — utime+stime (clock ticks) from a /proc/.../stat file, 0 if it is gone.
stat_cpu_ticks() {
  local stat f
  stat=$(cat "$1" 2>/dev/null) || { echo 0; return; }
  # Fields after the ")" of comm: utime and stime are the 12th and 13th.
  stat=${stat##*) }
  read -r -a f <<<"$stat"
  echo $((f[11] + f[12]))
}

# pid_tree_cpu_ticks PID — utime+stime (clock ticks) of PID and its direct children.
pid_tree_cpu_ticks() {
  local pid=$1 total=0 p
  for p in "$pid" $(pgrep -P "$pid" || true); do
    total=$((total + $(stat_cpu_ticks "/proc/$p/stat")))
  done
  echo "$total"
}

# threads_cpu_ticks PID NAME_PREFIX — utime+stime (clock ticks) of PID's threads whose name
# (/proc/PID/task/TID/comm) starts with NAME_PREFIX.
threads_cpu_ticks() {
  local pid=$1 prefix=$2 total=0 t name
  for t in /proc/"$pid"/task/*; do
    name=$(cat "$t/comm" 2>/dev/null) || continue
    [[ $name == "$prefix"* ]] || continue
    total=$((total + $(stat_cpu_ticks "$t/stat")))
  done
  echo "$total"
}

# cpu_busy_ticks CPU|all — non-idle ticks of one CPU (or all) from /proc/stat.
cpu_busy_ticks() {
  local c="cpu$1"
  [[ $1 == all ]] && c=cpu
  awk -v c="$c" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# busy_pct_over SECONDS — how busy the whole machine is, in % of one core.
busy_pct_over() {
  local a b
  a=$(cpu_busy_ticks all)
  sleep "$1"
  b=$(cpu_busy_ticks all)
  echo $(((b - a) * 100 / ($1 * $(getconf CLK_TCK))))
}

# compilers_running — number of C/C++ compiler processes (other people's builds).
compilers_running() { pgrep -c -x 'cc1plus|cc1' || true; }

# wait_for_quiet — wait until no compiler runs and, with our servers idle, the machine is
# under QUIET_PCT % of one core busy. Bounded: at most QUIET_WAIT s per call and
# QUIET_BUDGET s over the whole run (QUIET_BUDGET shrinks). 0 if quiet, 1 if not.
wait_for_quiet() {
  local start=$SECONDS busy="" logged=0 limit=$QUIET_WAIT
  ((QUIET_BUDGET < limit)) && limit=$QUIET_BUDGET
  while :; do
    if [[ $(compilers_running) == 0 ]]; then
      busy=$(busy_pct_over 2)
      ((busy < QUIET_PCT)) && break
    fi
    ((SECONDS - start >= limit)) && break
    ((logged++)) || log "machine busy (${busy:-a compiler runs}${busy:+% of a core}); waiting up to ${limit}s"
    sleep 3
  done
  QUIET_BUDGET=$((QUIET_BUDGET - (SECONDS - start)))
  ((QUIET_BUDGET < 0)) && QUIET_BUDGET=0
  [[ -n $busy ]] && ((busy < QUIET_PCT))
}

# median — of the numbers on stdin, one per line.
median() {
  sort -g | awk '{ a[NR] = $1 } END {
    if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2];
    else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
