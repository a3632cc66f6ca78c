# Writing results: one section per scenario (loadtest/sections/<name>.md, rewritten only when
# that scenario runs) and loadtest/RESULTS.md, assembled from the sections plus every
# loadtest/results/*.md that other benchmark scripts write.

# sample_stat SCENARIO CASE SERVER COLUMN [median|sum|list|max] — over the runs in samples.tsv.
sample_stat() {
  local col how=${5:-median}
  col=$(tr ' ' '\n' <<<"$SAMPLE_COLUMNS" | grep -nx "$4" | cut -d: -f1)
  local values
  # cpu_us_per_request: derived, the server's CPU time per request (server_cpu_pct / rps).
  values=$(awk -v s="$1" -v c="$2" -v v="$3" -v k="${col:-0}" \
    '$1 == s && $2 == c && $3 == v { if (k) print $k; else printf "%.1f\n", $10 * 1e4 / $5 }' \
    "$OUT_DIR/samples.tsv")
  case $how in
    median) median <<<"$values" ;;
    sum) awk '{ t += $1 } END { print t + 0 }' <<<"$values" ;;
    max) sort -g <<<"$values" | tail -1 ;;
    list) paste -sd' ' <<<"$values" ;;
  esac
}

# req/s: thousands as "12.3k"; below 1000 (64 MiB hashes, image resizes) as "23.5".
fmt_rps() { awk -v r="$1" 'BEGIN { if (r < 1000) printf "%.1f", r; else printf "%.1fk", r / 1000 }'; }
fmt_us() {
  awk -v u="$1" 'BEGIN { if (u < 1000) printf "%d µs", u; else printf "%.2f ms", u / 1000 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

machine_info() {
  local model
  model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  echo "- Machine: $(nproc) CPUs ($model), Linux $(uname -r)," \
    "$(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "- Tools: $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-3), $(version_nginx)," \
    "$(version_node), $(version_nodus) ($(g++ --version | head -1))"
  echo "- nodus source: commit $(git -C "$REPO_DIR" rev-parse --short HEAD)$(
    git -C "$REPO_DIR" diff --quiet HEAD -- . ':!loadtest' 2>/dev/null || echo ' + uncommitted changes')"
}

method_info() {
  local order
  order=$(printf '%s, ' "$@")
  echo "- Method: per case, each server is warmed up for $WARMUP (not counted), then $RUNS" \
    "rounds of $DURATION runs take the servers in turn (${order%, }), so drift in the" \
    "machine's noise spreads over all of them. Each figure is its column's median over the rounds."
  if [[ $PIN_CPUS == 1 ]]; then
    echo "- Pinning: every server on CPU $SERVER_CPU (nodus --loops 1 with its default pool, a" \
      "thread per CPU it may run on: one; one nginx worker, one Node process), wrk (one" \
      "thread) on CPU $WRK_CPU."
  else
    echo "- Pinning: off (--no-pin); servers and wrk share all CPUs."
  fi
  local s
  for s; do
    [[ -n ${SERVER_LAYOUT[$s]:-} ]] && echo "  Except $s: ${SERVER_LAYOUT[$s]}."
  done
  if [[ -n ${AUTOGROUP_NICE:-} ]]; then
    echo "- Priority: servers and wrk at nice $NICE, in an autogroup (session) at nice $NICE," \
      "so other people's jobs on this shared machine (nice 0) take little CPU from them."
  elif [[ -n $NICE ]]; then
    echo "- Priority: servers and wrk at nice $NICE."
  fi
}

# case_table SCENARIO CASE SERVER... — markdown table of one case.
case_table() {
  local scenario=$1 id=$2 s
  shift 2
  echo "| server | req/s | p50 | p99 | req/s nodus÷server | p99 nodus÷server | server CPU | µs CPU per request | wrk CPU | other CPU | limit | req/s per run | errors |"
  echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|--:|"
  for s in "$@"; do case_row "$scenario" "$id" "$s"; done
}

case_row() {
  local scenario=$1 id=$2 s=$3 rps p50 p99 valid runs n_rps="" n_p99="" cpu wrk
  rps=$(sample_stat "$scenario" "$id" "$s" rps)
  p50=$(sample_stat "$scenario" "$id" "$s" p50_us) p99=$(sample_stat "$scenario" "$id" "$s" p99_us)
  valid=$(sample_stat "$scenario" "$id" "$s" latency_valid)
  if [[ -n ${SERVER_URL[nodus]:-} ]]; then
    n_rps=$(ratio "$(sample_stat "$scenario" "$id" nodus rps)" "$rps")
    n_p99=$(ratio "$(sample_stat "$scenario" "$id" nodus p99_us)" "$p99")
  fi
  if [[ $valid != 1 ]]; then p50="n/a¹" p99="n/a¹" n_p99="n/a" LATENCY_FOOTNOTE=1; else
    p50=$(fmt_us "$p50") p99=$(fmt_us "$p99"); fi
  runs=$(for r in $(sample_stat "$scenario" "$id" "$s" rps list); do fmt_rps "$r"; echo; done | paste -sd' ')
  cpu=$(sample_stat "$scenario" "$id" "$s" server_cpu_pct) wrk=$(sample_stat "$scenario" "$id" "$s" wrk_cpu_pct)
  echo "| $s | $(fmt_rps "$rps") | $p50 | $p99 | ${n_rps:-–} | ${n_p99:-–} | $cpu% |" \
    "$(sample_stat "$scenario" "$id" "$s" cpu_us_per_request) | $wrk% |" \
    "$(sample_stat "$scenario" "$id" "$s" other_cpu_pct)% |" \
    "$(limit_of "$cpu" "$wrk") | $runs | $(sample_stat "$scenario" "$id" "$s" errors sum) |"
}

# limit_of SERVER_CPU WRK_CPU — which side ran out of CPU (the bottleneck).
limit_of() {
  awk -v c="$1" -v w="$2" 'BEGIN {
    if (c >= 90 && w >= 90) print "both"; else if (c >= 90) print "server";
    else if (w >= 90) print "wrk"; else print "neither" }'
}

goals_table() {
  local scenario=$1 g id peer metric want got ok
  ((${#GOALS[@]})) && [[ -n ${SERVER_URL[nodus]:-} ]] || return 0
  echo "| goal | measured | met |"
  echo "|---|--:|---|"
  for g in "${GOALS[@]}"; do
    read -r id peer metric want server <<<"$g"
    server=${server:-nodus}
    [[ -n ${SERVER_URL[$peer]:-} && -n ${SERVER_URL[$server]:-} ]] || continue
    if [[ $metric == rps ]]; then
      got=$(ratio "$(sample_stat "$scenario" "$id" "$server" rps)" "$(sample_stat "$scenario" "$id" "$peer" rps)")
      ok=$(awk -v g="$got" -v w="$want" 'BEGIN { print (g >= w ? "yes" : "no") }')
      echo "| $id: $server req/s ≥ $want × $peer | ${got}× | $ok |"
    elif [[ $(sample_stat "$scenario" "$id" "$server" latency_valid) == 1 ]]; then
      got=$(ratio "$(sample_stat "$scenario" "$id" "$server" p99_us)" "$(sample_stat "$scenario" "$id" "$peer" p99_us)")
      ok=$(awk -v g="$got" -v w="$want" 'BEGIN { print (g <= w ? "yes" : "no") }')
      echo "| $id: $server p99 ≤ $want × $peer's | ${got}× | $ok |"
    fi
  done
}

conditions() {
  local scenario=$1 rows others
  rows=$(awk -v s="$scenario" '$1 == s' "$OUT_DIR/samples.tsv")
  others=$(awk '{ print $12 }' <<<"$rows")
  echo "- Other load: $(wc -l <<<"$rows") measurements; a compiler (someone else's build)" \
    "ran during $(awk '$13 > 0' <<<"$rows" | wc -l); $(awk '$15 > 1' <<<"$rows" | wc -l) were" \
    "repeated because other processes took > $OTHER_MAX% of a core. CPU used by everything" \
    "but the server and wrk (including kernel network work no process is charged for):" \
    "median $(median <<<"$others")%, max $(sort -g <<<"$others" | tail -1)% of a core."
  echo "- *server CPU*: the server's processes (nginx: master + worker); *µs CPU per" \
    "request*: server CPU time / requests, comparable whoever was the limit; *wrk CPU*: wrk's" \
    "own CPU time; *other CPU*: the rest of the machine's busy time during the run; all in %" \
    "of one core. *limit*: who used >= 90% of a core — \`server\` is what the test should" \
    "measure; \`wrk\` means one wrk thread could not drive the server harder, so req/s is a" \
    "lower bound for the server and the ratio nodus÷peer understates the faster one."
}

commands_block() {
  local scenario=$1 id s
  shift
  echo '```sh'
  if [[ $BUILD == 1 ]]; then
    echo "cmake --preset release && cmake --build --preset release --target nodus"
  elif [[ -n ${SERVER_CMD[nodus]:-} ]]; then
    echo "# nodus not built by this run: $NODUS_BIN as found"
  fi
  for s in "$@"; do echo "${SERVER_CMD[$s]}"; done
  for id in "${CASES[@]}"; do
    for s in "$@"; do
      if [[ -n ${CASE_BG_PATH[$id]:-} ]]; then
        wrk_command "$s" "$id" "$((DURATION_S + 2))s" bg
        echo "${WRK_CMD[*]} &  # $s: background load, 1 s before"
      fi
      wrk_command "$s" "$id" "$DURATION"; echo "${WRK_CMD[*]}  # $s"
    done
  done
  echo '```'
}

# write_section SCENARIO SERVER... — loadtest/sections/SCENARIO.md from this run's samples.
write_section() {
  local scenario=$1 id
  shift
  mkdir -p "$LT_DIR/sections"
  {
    echo "## Scenario \`$scenario\`"
    echo
    echo "$SCENARIO_ABOUT"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`loadtest/run.sh $RUN_ARGS\`."
    echo
    machine_info
    method_info "$@"
    for id in "${CASES[@]}"; do
      echo
      echo "### \`$id\` — \`wrk ${CASE_ARGS[$id]//$'\x1f'/ } ${CASE_PATH[$id]}\`"
      echo
      if [[ -n ${CASE_BG_PATH[$id]:-} ]]; then
        echo "While measured, a background \`wrk ${CASE_BG_ARGS[$id]//$'\x1f'/ } ${CASE_BG_PATH[$id]}\` loads the same server."
        echo
      fi
      case_table "$scenario" "$id" "$@"
    done
    if declare -F scenario_section >/dev/null; then scenario_section "$@"; fi
    section_notes "$scenario" "$@"
  } >"$LT_DIR/sections/$scenario.md"
}

section_notes() {
  local scenario=$1 goals
  shift
  goals=$(goals_table "$scenario")
  if [[ -n $goals ]]; then printf '\n### Goals\n\n%s\n' "$goals"; fi
  printf '\n### Conditions\n\n'
  conditions "$scenario"
  [[ ${LATENCY_FOOTNOTE:-0} == 1 ]] && echo "- ¹ wrk 4.1 cannot report latency percentiles under pipelining: it records one sample" \
    "per batch and its coordinated-omission correction, computed per response, fills the" \
    "histogram below its minimum (percentiles read 0). Only req/s is comparable there."
  printf '\n### Commands\n\nExact commands of this run (warm-ups: the same wrk commands with -d %s).\n\n' "$WARMUP"
  commands_block "$scenario" "$@"
}

# demote_headings — two more '#' on markdown headings outside code fences, so an included
# file's "# Title" sits under "## Other benchmarks".
demote_headings() {
  awk '/^```/ { fence = !fence } !fence && /^#/ { $0 = "##" $0 } { print }'
}

write_results() {
  local f name
  {
    echo "# nodus load-test results"
    echo
    echo "Written by \`loadtest/run.sh\` — how to run it and what each scenario measures:" \
      "[README.md](README.md). A scenario's section is rewritten only when that scenario" \
      "runs, so each carries its own date, commit and machine. The machine is shared and" \
      "noisy: read each section's *Conditions* before comparing numbers across sections."
    echo
    for f in "$LT_DIR"/sections/*.md; do
      [[ -f $f ]] || continue
      name=$(basename "$f" .md)
      echo "- [Scenario \`$name\`](#scenario-$name)"
    done
    for f in "$LT_DIR"/results/*.md; do
      [[ -f $f ]] && echo "- [results/$(basename "$f")](results/$(basename "$f")) (included below)"
    done
    for f in "$LT_DIR"/sections/*.md; do [[ -f $f ]] && { echo; cat "$f"; }; done
    other_results
  } >"$LT_DIR/RESULTS.md"
  log "wrote $LT_DIR/RESULTS.md"
}

# other_results — every loadtest/results/*.md (written by bench_loop.sh, bench_heap.sh, ...).
other_results() {
  local f
  compgen -G "$LT_DIR/results/*.md" >/dev/null || return 0
  printf '\n## Other benchmarks\n\n'
  echo "Written by other scripts (e.g. \`loadtest/bench_loop.sh\`, \`loadtest/bench_heap.sh\`)" \
    "into \`loadtest/results/\`; included as they were when RESULTS.md was last written."
  for f in "$LT_DIR"/results/*.md; do
    printf '\n*From [results/%s](results/%s):*\n\n' "$(basename "$f")" "$(basename "$f")"
    demote_headings <"$f"
  done
}
