# The servers under test. One `start_<name>` and one `version_<name>` per server; each start
# function runs the server on 127.0.0.1 behind SERVER_PREFIX (taskset, or nothing) and fills
# SERVER_URL, SERVER_PID and SERVER_CMD (the exact command, for RESULTS.md).
# Adding a peer = two functions here and its name in a scenario's SCENARIO_SERVERS.
# A scenario may set SCENARIO_ROOT (a directory): every server then serves its files from
# there (nodus --root, nginx's /files/ alias, Node's ROOT) instead of the repo's public/.

declare -A SERVER_URL=() SERVER_PID=() SERVER_CMD=() SERVER_LAYOUT=()

start_nodus() {
  local log="$OUT_DIR/nodus.log" pid line
  local cmd=("$NODUS_BIN" --loops 1 --host 127.0.0.1 --port 0 --log-level warn ${SCENARIO_NODUS_ARGS[@]+"${SCENARIO_NODUS_ARGS[@]}"})
  [[ -n ${SCENARIO_ROOT:-} ]] && cmd+=(--root "$SCENARIO_ROOT")
  spawn pid "$log" "${SERVER_PREFIX[@]}" "${cmd[@]}"
  line=$(wait_for_line "$log" 'nodus listening on http://' "$pid") ||
    die "nodus did not start; see $log"
  register_server nodus "$pid" "${line##* }" "${cmd[*]}"
}

# nodus with one pool thread on a core of its own: the per-worker layout (issue 5's "MB/s per
# worker"). The process may use both CPUs; once it listens, its pool thread (nodus-worker-0)
# is moved to SERVER_CPU and every other thread (the loop) to WRK_CPU, beside wrk. Without
# pinning (--no-pin, or one CPU) it runs like nodus with --workers 1.
start_nodus-1w() {
  local log="$OUT_DIR/nodus-1w.log" pid line task name
  local cmd=("$NODUS_BIN" --loops 1 --workers 1 --host 127.0.0.1 --port 0 --log-level warn)
  local prefix
  whole_machine_prefix prefix
  spawn pid "$log" ${prefix[@]+"${prefix[@]}"} "${cmd[@]}"
  line=$(wait_for_line "$log" 'nodus listening on http://' "$pid") ||
    die "nodus-1w did not start; see $log"
  if [[ $PIN_CPUS == 1 ]]; then
    for task in /proc/"$pid"/task/*; do
      name=$(cat "$task/comm")
      if [[ $name == nodus-worker-* ]]; then
        taskset -p -c "$SERVER_CPU" "${task##*/}" >/dev/null
      else
        taskset -p -c "$WRK_CPU" "${task##*/}" >/dev/null
      fi
    done
    SERVER_LAYOUT[nodus-1w]="its pool thread alone on CPU $SERVER_CPU, its loop on CPU $WRK_CPU beside wrk (taskset -p per thread after start)"
  fi
  register_server nodus-1w "$pid" "${line##* }" "${cmd[*]}" ${prefix[@]+"${prefix[@]}"}
}

# The whole machine, as a user runs a server on it: both CPUs, shared with wrk, threads where
# the kernel puts them. nodus with its defaults (a pool thread per CPU) and the Node peer.
# Next to `nodus`/`node` (both on one CPU: the cost of the work), these show what the pool
# buys: Node hashes and reads on its main thread, nodus's loop reads while a worker hashes.
start_nodus-2c() {
  start_whole_machine nodus-2c 'nodus listening on http://' "its loop and its $(nproc) pool threads" \
    "$NODUS_BIN" --loops 1 --host 127.0.0.1 --port 0 --log-level warn
}

start_node-2c() {
  start_whole_machine node-2c 'node listening on http://' "" node loadtest/peers/node_server.js 0
}

# start_whole_machine NAME LISTENING_LINE WHAT COMMAND... — runs COMMAND on both CPUs
# (whole_machine_prefix), waits for LISTENING_LINE in its log and registers it as NAME.
start_whole_machine() {
  local name=$1 listening=$2 what=$3 log="$OUT_DIR/$1.log" pid line prefix
  shift 3
  whole_machine_prefix prefix
  spawn pid "$log" ${prefix[@]+"${prefix[@]}"} "$@"
  line=$(wait_for_line "$log" "$listening" "$pid") || die "$name did not start; see $log"
  [[ $PIN_CPUS == 1 ]] && SERVER_LAYOUT[$name]="CPUs $WRK_CPU and $SERVER_CPU, shared with wrk${what:+ ($what)}"
  register_server "$name" "$pid" "${line##* }" "$*" ${prefix[@]+"${prefix[@]}"}
}

# whole_machine_prefix ARRAY — sets ARRAY to the prefix of a server that may use both CPUs:
# nice (as SERVER_PREFIX) and, when pinning, taskset to wrk's CPU and the server's.
whole_machine_prefix() {
  local -n out=$1
  out=(${NICE:+nice -n "$NICE"})
  [[ $PIN_CPUS == 1 ]] && out+=(taskset -c "$WRK_CPU,$SERVER_CPU")
  return 0
}

start_node() {
  local log="$OUT_DIR/node.log" pid line
  local cmd=(node ${SCENARIO_NODE_FLAGS[@]+"${SCENARIO_NODE_FLAGS[@]}"} loadtest/peers/node_server.js 0)
  [[ -n ${SCENARIO_ROOT:-} ]] && cmd=(env "ROOT=$SCENARIO_ROOT" "${cmd[@]}")
  spawn pid "$log" "${SERVER_PREFIX[@]}" "${cmd[@]}"
  line=$(wait_for_line "$log" 'node listening on http://' "$pid") ||
    die "node peer did not start; see $log"
  register_server node "$pid" "${line##* }" "${cmd[*]}"
}

# nginx cannot listen on port 0 usefully, so it gets a free port written into its config.
start_nginx() {
  local prefix="$TMP_DIR/nginx" port pid
  port=$(free_port)
  mkdir -p "$prefix/tmp"
  sed -e "s|@PORT@|$port|g" -e "s|@ROOT@|${SCENARIO_ROOT:-$REPO_DIR/public}|g" \
    "$LT_DIR/peers/nginx.conf" >"$prefix/nginx.conf"
  local cmd=(nginx -p "$prefix/" -e "$prefix/error.log" -c "$prefix/nginx.conf")
  spawn pid "$OUT_DIR/nginx.log" "${SERVER_PREFIX[@]}" "${cmd[@]}"
  wait_for_http "http://127.0.0.1:$port/" "$pid" ||
    die "nginx did not start; see $OUT_DIR/nginx.log and $prefix/error.log"
  register_server nginx "$pid" "http://127.0.0.1:$port" "${cmd[*]}"
}

version_nodus() {
  if [[ -x $NODUS_BIN ]]; then "$NODUS_BIN" --version 2>&1 | head -1; else echo "nodus (not built)"; fi
}
version_nodus-1w() { version_nodus; }
version_nodus-2c() { version_nodus; }
version_node() { echo "node $(node --version)"; }
version_node-2c() { version_node; }
version_nginx() { nginx -v 2>&1 | sed 's/^nginx version: //'; }

# register_server NAME PID URL COMMAND [PREFIX...] — COMMAND was run after PREFIX (default:
# SERVER_PREFIX; a start function with a prefix of its own passes it).
register_server() {
  local name=$1 pid=$2 url=$3 command=$4
  shift 4
  local -a prefix=("${SERVER_PREFIX[@]}")
  (($#)) && prefix=("$@")
  SERVER_PID[$name]=$pid
  SERVER_URL[$name]=${url%/}
  SERVER_CMD[$name]="${prefix[*]:+${prefix[*]} }$command"
  log "$name: pid $pid at ${SERVER_URL[$name]}"
}

# wait_for_http URL PID — any HTTP answer from URL within 10 s, while PID lives.
wait_for_http() {
  local url=$1 pid=$2 i
  for ((i = 0; i < 100; i++)); do
    curl -s -o /dev/null --max-time 1 "$url" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

start_servers() {
  local s
  for s in "$@"; do "start_$s"; done
}

stop_servers() {
  local s
  for s in "${!SERVER_PID[@]}"; do stop_pid "${SERVER_PID[$s]}"; done
  SERVER_PID=()
}
