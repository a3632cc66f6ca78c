# Running wrk: the command for a case, one measurement, and the interleaved run order.
# Every measurement appends one line to $OUT_DIR/samples.tsv (columns: SAMPLE_COLUMNS).

SAMPLE_COLUMNS="scenario case server run rps p50_us p99_us latency_valid errors server_cpu_pct wrk_cpu_pct other_cpu_pct compilers pool_cpu_pct attempts"
WRK_TIMEOUT=8s # as TechEmpower; wrk's default 2 s counts slow pipelined batches as errors

# wrk_command SERVER CASE DURATION [bg] — the exact wrk argv, into the array WRK_CMD; with
# `bg`, the case's background load (add_background) instead of the case itself.
wrk_command() {
  local server=$1 id=$2 duration=$3 script="loadtest/wrk/report.lua" i
  local -a args opts=() script_args=()
  local path=${CASE_PATH[$id]} case_args=${CASE_ARGS[$id]}
  [[ ${4:-} == bg ]] && { path=${CASE_BG_PATH[$id]}; case_args=${CASE_BG_ARGS[$id]}; }
  IFS=$'\x1f' read -r -a args <<<"$case_args"
  for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
      -s) script="loadtest/wrk/${args[++i]}" ;;
      --) script_args=("${args[@]:i+1}"); break ;;
      *) opts+=("${args[i]}") ;;
    esac
  done
  WRK_CMD=("${WRK_PREFIX[@]}" wrk --latency --timeout "$WRK_TIMEOUT" -d "$duration" "${opts[@]}"
    -s "$script" "${SERVER_URL[$server]}$path")
  ((${#script_args[@]})) && WRK_CMD+=(-- "${script_args[@]}")
  return 0
}

# check_case SERVER CASE — the case's path answers 200 on SERVER (else the numbers lie); a
# post_file.lua case is checked with the same POST.
check_case() {
  local url="${SERVER_URL[$1]}${CASE_PATH[$2]}" code method=GET args
  local -a curl_args=()
  IFS=$'\x1f' read -r -a args <<<"${CASE_ARGS[$2]}"
  if [[ " ${args[*]} " == *" -s post_file.lua "* ]]; then
    method=POST curl_args=(-X POST --data-binary "@${args[-1]}")
  fi
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "${curl_args[@]}" "$url" || true)
  [[ $code == 200 ]] || die "$1: $method $url answered '$code', not 200"
}

warm_up() {
  local server=$1 id=$2
  wrk_command "$server" "$id" "$WARMUP"
  run_wrk "$OUT_DIR/warmup.log" 60 || log "warm-up of $server failed"
}

# run_wrk OUTFILE MAX_SECONDS — run WRK_CMD, appending to OUTFILE. In the background plus
# `wait`, so a SIGTERM to the runner is handled at once (cleanup stops wrk too).
run_wrk() {
  timeout "$2" "${WRK_CMD[@]}" >>"$1" 2>&1 &
  SPAWNED_PIDS+=($!)
  local rc=0
  wait $! || rc=$?
  unset 'SPAWNED_PIDS[-1]'
  return "$rc"
}

# measure SCENARIO CASE SERVER RUN — one sample in samples.tsv. A run during which other
# processes used more than OTHER_MAX % of a core is repeated (up to RETRIES times, while
# the waiting budget lasts).
measure() {
  local scenario=$1 id=$2 server=$3 run=$4 attempt
  for ((attempt = 1; ; attempt++)); do
    wait_for_quiet "$QUIET_WAIT" || log "machine still busy; measuring anyway"
    measure_once "$scenario" "$id" "$server" "$run"
    ((OTHER_PCT <= OTHER_MAX)) && break
    ((attempt > RETRIES || QUIET_BUDGET == 0)) && { log "noisy run kept (attempt $attempt)"; break; }
    log "other processes used ${OTHER_PCT}% of a core during the run; repeating it"
  done
  echo "$SAMPLE $attempt" >>"$OUT_DIR/samples.tsv"
  log "$scenario/$id run $run $server: $(cut -d' ' -f5 <<<"$SAMPLE") req/s"
}

# measure_once SCENARIO CASE SERVER RUN — one wrk run; sets SAMPLE (all columns but
# attempts) and OTHER_PCT.
measure_once() {
  local scenario=$1 id=$2 server=$3 run=$4 pid=${SERVER_PID[$3]}
  local out="$OUT_DIR/$scenario.$id.$server.$run.txt" json rc=0 before after usage
  local bg_pid=""
  if [[ -n ${CASE_BG_PATH[$id]:-} ]]; then
    # The background load starts 1 s early and outlasts the measured run by 1 s.
    wrk_command "$server" "$id" "$((DURATION_S + 2))s" bg
    echo "# background: ${WRK_CMD[*]}" >>"$out"
    timeout $((DURATION_S + 32)) "${WRK_CMD[@]}" >>"$out.bg" 2>&1 &
    bg_pid=$!
    SPAWNED_PIDS+=($bg_pid)
    sleep 1
  fi
  wrk_command "$server" "$id" "$DURATION"
  echo "# ${WRK_CMD[*]}" >>"$out"
  usage_snapshot before "$pid"
  run_wrk "$out" $((DURATION_S + 30)) || rc=$?
  usage_snapshot after "$pid"
  if [[ -n $bg_pid ]]; then
    wait "$bg_pid" || log "background load on $server ended with an error; see $out.bg"
    unset 'SPAWNED_PIDS[-1]'
  fi
  json=$(grep '^WRK_JSON ' "$out" | tail -1 | cut -d' ' -f2-) || true
  [[ $rc == 0 && -n $json ]] || die "wrk failed (exit $rc) on $server; see $out"
  kill -0 "$pid" 2>/dev/null || die "$server died during the run; see $OUT_DIR/$server.log"
  usage=$(usage_between "$before" "$after")
  OTHER_PCT=$(cut -d' ' -f3 <<<"$usage")
  SAMPLE="$scenario $id $server $run $(wrk_fields "$json") $usage"
}

# wrk_fields JSON — "rps p50_us p99_us latency_valid errors" from wrk/report.lua's line.
wrk_fields() {
  awk '{ gsub(/[{}"]/, ""); n = split($0, kv, ",")
    for (i = 1; i <= n; i++) { split(kv[i], p, ":"); v[p[1]] = p[2] }
    print v["rps"], v["p50_us"], v["p99_us"], v["latency_valid"],
      v["err_connect"] + v["err_read"] + v["err_write"] + v["err_status"] + v["err_timeout"] }' <<<"$1"
}

# usage_snapshot VAR PID — into VAR: "server_ticks wrk_ticks all_cpu_busy_ticks time compilers
# pool_ticks" (pool_ticks: the server's threads named nodus-worker-*, 0 for other servers).
# wrk's CPU time comes from `times` (children of this shell), so this runs in the
# current shell, not in $(...).
usage_snapshot() {
  local -n snap=$1
  times >"$TMP_DIR/times"
  local children
  children=$(awk -v t="$(getconf CLK_TCK)" 'NR == 2 {
      for (i = 1; i <= 2; i++) { split($i, m, "m"); sub("s", "", m[2]); c += (m[1] * 60 + m[2]) * t }
      printf "%.0f", c }' "$TMP_DIR/times")
  snap="$(pid_tree_cpu_ticks "$2") $children $(cpu_busy_ticks all) $EPOCHREALTIME $(compilers_running)"
  snap+=" $(threads_cpu_ticks "$2" nodus-worker-)"
}

# usage_between BEFORE AFTER — "server_cpu% wrk_cpu% other_cpu% compilers pool_cpu%", each
# CPU figure in % of one core: the server's process tree, wrk, everything else that ran
# (other people's processes, plus kernel work no process is charged for), and nodus's
# worker-pool threads (part of the server's figure).
usage_between() {
  awk -v t="$(getconf CLK_TCK)" -v a="$1" -v b="$2" 'BEGIN {
    split(a, x, " "); split(b, y, " "); s = (y[4] - x[4]) * t / 100
    srv = (y[1] - x[1]) / s; wrk = (y[2] - x[2]) / s; other = (y[3] - x[3]) / s - srv - wrk
    printf "%.0f %.0f %.0f %d %.0f\n", srv, wrk, (other > 0 ? other : 0), (x[5] > y[5] ? x[5] : y[5]),
      (y[6] - x[6]) / s }'
}

# run_cases SCENARIO SERVER... — per case: warm up each server, then RUNS rounds that go
# through the servers in turn (nodus, nginx, node, nodus, ...), so slow drift in machine
# noise spreads over all servers instead of landing on one.
run_cases() {
  local scenario=$1 id server run
  shift
  for id in "${CASES[@]}"; do
    for server in "$@"; do check_case "$server" "$id"; done
    for server in "$@"; do warm_up "$server" "$id"; done
    for ((run = 1; run <= RUNS; run++)); do
      for server in "$@"; do measure "$scenario" "$id" "$server" "$run"; done
    done
  done
}
