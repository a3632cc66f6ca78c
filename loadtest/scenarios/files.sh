# Scenario `files`: static files under /files/ (issue 6's benchmarks). The servers serve a
# directory of generated files (1 MiB and 1 GiB of random bytes) made under the run's out
# dir and removed on exit: nodus --root, nginx's /files/ alias (sendfile on), Node's ROOT
# (fs.createReadStream().pipe(res)).
#
# Cases:
#   1mib-c16     wrk -t1 -c16 /files/1mib.bin (the runner's wrk case): req/s and MB/s
#   1gib-single  one `curl -o /dev/null` of /files/1gib.bin at a time: curl's speed_download
#   c64-1gib     64 concurrent curls of /files/1gib.bin for at most FILES_C64_SECONDS:
#                the server's peak VmRSS (sampled every ~50 ms) above its idle VmRSS
# The curl cases run in scenario_after_cases, interleaved over the servers like wrk's.

SCENARIO_SERVERS=(nodus nginx node)

FILES_C64=64          # concurrent downloads in c64-1gib
FILES_C64_SECONDS=${FILES_C64_SECONDS:-20} # c64-1gib: every curl is cut off after this (curl --max-time)
FILES_SINGLE_MAX=60   # 1gib-single: curl --max-time
FILES_1GIB=1073741824

SCENARIO_ABOUT="GET /files/<file> of generated random files: 1 MiB with \`wrk -t1 -c16\` \
(req/s and MB/s), 1 GiB with one \`curl -o /dev/null\` at a time (curl's speed_download), and \
$FILES_C64 concurrent curls of the 1 GiB file cut off after ${FILES_C64_SECONDS} s, during \
which the server's VmRSS (server process, plus nginx's worker) is sampled every ~50 ms: peak \
minus idle. Downloads run on the wrk CPU, the server on its own CPU, so a fast server is \
limited by the client's receive copy over loopback. Goals (issue 6): 1 MiB req/s and MB/s \
>= 1.0x nginx and >= 2x Node; 1 GiB single MB/s >= 1.0x nginx; peak RSS growth of nodus \
under 64 downloads < 4 MiB."

scenario_define() {
  SCENARIO_ROOT="$OUT_DIR/files-root"
  if [[ ! -f $SCENARIO_ROOT/1gib.bin ]]; then
    mkdir -p "$SCENARIO_ROOT"
    CLEANUP_DIRS+=("$SCENARIO_ROOT")
    log "generating $SCENARIO_ROOT/1mib.bin and 1gib.bin"
    head -c 1048576 /dev/urandom >"$SCENARIO_ROOT/1mib.bin"
    head -c "$FILES_1GIB" /dev/urandom >"$SCENARIO_ROOT/1gib.bin"
  fi
  add_case 1mib-c16 /files/1mib.bin -t1 -c16
}

# --- measurements wrk cannot make ----------------------------------------------------------

scenario_after_cases() {
  local s run
  FILES_SINGLE_ROUNDS=$((RUNS < 5 ? 5 : RUNS)) # a download takes ~1 s: more rounds
  : >"$OUT_DIR/files_extra.tsv"
  for s; do files_single "$s" 0; done # warm-up, not counted
  for ((run = 1; run <= FILES_SINGLE_ROUNDS; run++)); do
    for s; do files_single "$s" "$run"; done
  done
  for ((run = 1; run <= RUNS; run++)); do
    for s; do files_c64 "$s" "$run"; done
  done
}

files_url() { echo "${SERVER_URL[$1]}/files/1gib.bin"; }

# files_single SERVER RUN — one 1 GiB download; run 0 is the warm-up (not recorded).
files_single() {
  local s=$1 run=$2 out="$OUT_DIR/files.1gib-single.$1.$2.txt" before after rc=0 code size speed
  wait_for_quiet || log "machine still busy; measuring anyway"
  FILES_SINGLE_CMD=("${WRK_PREFIX[@]}" curl -s -o /dev/null --max-time "$FILES_SINGLE_MAX"
    -w '%{http_code} %{size_download} %{speed_download}\n' "$(files_url "$s")")
  echo "# ${FILES_SINGLE_CMD[*]}" >"$out"
  usage_snapshot before "${SERVER_PID[$s]}"
  "${FILES_SINGLE_CMD[@]}" >>"$out" 2>&1 &
  SPAWNED_PIDS+=($!)
  wait $! || rc=$?
  unset 'SPAWNED_PIDS[-1]'
  usage_snapshot after "${SERVER_PID[$s]}"
  read -r code size speed < <(tail -1 "$out")
  [[ $rc == 0 && $code == 200 && $size == "$FILES_1GIB" ]] ||
    die "$s: 1 GiB download failed (curl exit $rc, status ${code:-?}, ${size:-0} bytes); see $out"
  ((run > 0)) || return 0
  echo "1gib-single $s $run $speed $size $(usage_between "$before" "$after")" >>"$OUT_DIR/files_extra.tsv"
  log "files/1gib-single run $run $s: $(awk -v b="$speed" 'BEGIN { printf "%.0f", b / 1e6 }') MB/s"
}

# files_rss PID... — sum of VmRSS (KiB) of the PIDs into FILES_RSS, without forking.
files_rss() {
  local p k v _
  FILES_RSS=0
  for p; do
    while read -r k v _; do
      [[ $k == VmRSS: ]] && { FILES_RSS=$((FILES_RSS + v)); break; }
    done <"/proc/$p/status" 2>/dev/null || true
  done
}

# files_c64 SERVER RUN — FILES_C64 concurrent 1 GiB downloads, cut off after
# FILES_C64_SECONDS; samples the server's VmRSS every ~50 ms.
files_c64() {
  local s=$1 run=$2 pid=${SERVER_PID[$1]} dir="$OUT_DIR/files.c64-1gib.$1.$2" i p
  local -a procs pids=()
  local n0=${#SPAWNED_PIDS[@]} idle=0 peak=0 samples=0 alive start elapsed before after
  procs=("$pid" $(pgrep -P "$pid" || true)) # nginx: master + worker
  mkdir -p "$dir"
  wait_for_quiet || log "machine still busy; measuring anyway"
  for ((i = 0; i < 5; i++)); do # idle: the highest of 5 samples over 0.25 s
    files_rss "${procs[@]}"
    ((FILES_RSS > idle)) && idle=$FILES_RSS
    sleep 0.05
  done
  FILES_C64_CMD=("${WRK_PREFIX[@]}" curl -s -o /dev/null --max-time "$FILES_C64_SECONDS"
    -w '%{http_code} %{size_download}\n' "$(files_url "$s")")
  usage_snapshot before "$pid"
  start=$EPOCHREALTIME
  for ((i = 0; i < FILES_C64; i++)); do
    "${FILES_C64_CMD[@]}" >"$dir/$i.txt" 2>&1 &
    pids+=($!)
    SPAWNED_PIDS+=($!)
  done
  # The sampler must keep up while 64 curls run at high priority: the runner shell takes
  # their niceness for the loop, then goes back.
  local old_nice
  old_nice=$(ps -o ni= -p $$ | tr -d ' ')
  [[ -n $NICE ]] && renice -n "$NICE" -p $$ >/dev/null
  peak=$idle
  while :; do
    files_rss "${procs[@]}"
    ((FILES_RSS > peak)) && peak=$FILES_RSS
    ((++samples))
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && { alive=1; break; }; done
    ((alive)) || break
    sleep 0.05
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  [[ -n $NICE ]] && renice -n "$old_nice" -p $$ >/dev/null
  elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
  SPAWNED_PIDS=("${SPAWNED_PIDS[@]:0:n0}")
  usage_snapshot after "$pid"
  kill -0 "$pid" 2>/dev/null || die "$s died during c64-1gib; see $OUT_DIR/$s.log"
  local totals
  totals=$(cat "$dir"/*.txt | awk -v full="$FILES_1GIB" '
    $1 == 200 { ok++; bytes += $2; if ($2 == full) done++ } END { printf "%d %d %.0f", ok + 0, done + 0, bytes }')
  # columns: case server run growth_kib idle_kib peak_kib samples answered_200 complete bytes seconds usage
  echo "c64-1gib $s $run $((peak - idle)) $idle $peak $samples $totals $elapsed $(usage_between "$before" "$after")" \
    >>"$OUT_DIR/files_extra.tsv"
  log "files/c64-1gib run $run $s: peak RSS +$((peak - idle)) KiB over idle $idle KiB ($samples samples; 200/complete/bytes: $totals)"
}

# --- report -------------------------------------------------------------------------------

# files_extra CASE SERVER COLUMN [median|max|list] — over the runs in files_extra.tsv.
files_extra() {
  local values
  values=$(awk -v c="$1" -v s="$2" -v k="$3" '$1 == c && $2 == s { print $k }' "$OUT_DIR/files_extra.tsv")
  case ${4:-median} in
    median) median <<<"$values" ;;
    max) sort -g <<<"$values" | tail -1 ;;
    list) paste -sd' ' <<<"$values" ;;
  esac
}

# files_wrk_mbps SERVER [median|list] — MB/s (10^6 bytes, headers included) of 1mib-c16,
# from wrk's byte count.
files_wrk_mbps() {
  local values
  local f
  # A repeated (noisy) run appends to the same file; the last WRK_JSON line is the one kept.
  values=$(for f in "$OUT_DIR"/files.1mib-c16."$1".*.txt; do grep '^WRK_JSON ' "$f" | tail -1; done | cut -d' ' -f2- |
    awk '{ gsub(/[{}"]/, ""); n = split($0, kv, ",")
      for (i = 1; i <= n; i++) { split(kv[i], p, ":"); v[p[1]] = p[2] }
      printf "%.0f\n", v["bytes"] / v["duration_us"] }')
  case ${2:-median} in
    median) median <<<"$values" ;;
    list) paste -sd' ' <<<"$values" ;;
  esac
}

fmt_mb() { awk -v b="$1" 'BEGIN { printf "%.0f\n", b / 1e6 }'; }
fmt_mib() { awk -v k="$1" 'BEGIN { printf "%.2f MiB", k / 1024 }'; }
files_ok() { awk -v g="$1" -v w="$2" -v op="${3:-ge}" 'BEGIN {
  if (g == "n/a") print "n/a"; else if (op == "ge") print (g >= w ? "yes" : "no"); else print (g < w ? "yes" : "no") }'; }

scenario_section() {
  local s list have_nginx=0 have_node=0
  [[ -n ${SERVER_URL[nginx]:-} ]] && have_nginx=1
  [[ -n ${SERVER_URL[node]:-} ]] && have_node=1

  echo
  echo "MB/s of \`1mib-c16\` (wrk's bytes read ÷ duration, 10^6 bytes, headers included):"
  echo
  echo "| server | MB/s | MB/s nodus÷server | MB/s per run |"
  echo "|---|--:|--:|---|"
  for s; do
    echo "| $s | $(files_wrk_mbps "$s") | $(ratio "$(files_wrk_mbps nodus)" "$(files_wrk_mbps "$s")") |" \
      "$(files_wrk_mbps "$s" list) |"
  done

  echo
  echo "### \`1gib-single\` — one \`curl -o /dev/null\` of /files/1gib.bin at a time"
  echo
  echo "One unmeasured download per server first, then $FILES_SINGLE_ROUNDS rounds taking the servers in turn."
  echo "MB/s is curl's \`%{speed_download}\` (10^6 bytes/s); CPU columns as in the wrk tables, with curl in place of wrk."
  echo
  echo "| server | MB/s | MB/s nodus÷server | server CPU | curl CPU | other CPU | MB/s per run |"
  echo "|---|--:|--:|--:|--:|--:|---|"
  for s; do
    list=$(for v in $(files_extra 1gib-single "$s" 4 list); do fmt_mb "$v"; done | paste -sd' ')
    echo "| $s | $(fmt_mb "$(files_extra 1gib-single "$s" 4)") |" \
      "$(ratio "$(files_extra 1gib-single nodus 4)" "$(files_extra 1gib-single "$s" 4)") |" \
      "$(files_extra 1gib-single "$s" 6)% | $(files_extra 1gib-single "$s" 7)% |" \
      "$(files_extra 1gib-single "$s" 8)% | $list |"
  done

  echo
  echo "### \`c64-1gib\` — $FILES_C64 concurrent curls of /files/1gib.bin, cut off after ${FILES_C64_SECONDS} s"
  echo
  echo "$RUNS rounds taking the servers in turn. *RSS growth*: the highest VmRSS sampled during the"
  echo "downloads (every ~50 ms; nginx: master + worker) minus the highest of 5 idle samples just"
  echo "before; *peak* is the largest growth over the rounds. *MB/s*: all downloads' bytes ÷ wall time."
  echo
  echo "| server | peak RSS growth | median RSS growth | idle RSS | growth per run (KiB) | MB/s (all $FILES_C64) | downloads finished | server CPU | curl CPU | samples per run |"
  echo "|---|--:|--:|--:|---|--:|--:|--:|--:|---|"
  for s; do
    local mbps
    mbps=$(awk -v c=c64-1gib -v s="$s" '$1 == c && $2 == s { print $10 / $11 }' "$OUT_DIR/files_extra.tsv" | median)
    echo "| $s | $(fmt_mib "$(files_extra c64-1gib "$s" 4 max)") | $(fmt_mib "$(files_extra c64-1gib "$s" 4)") |" \
      "$(fmt_mib "$(files_extra c64-1gib "$s" 5)") | $(files_extra c64-1gib "$s" 4 list) | $(fmt_mb "$mbps") |" \
      "$(files_extra c64-1gib "$s" 9 list | tr ' ' '/') of $FILES_C64 per run | $(files_extra c64-1gib "$s" 12)% |" \
      "$(files_extra c64-1gib "$s" 13)% | $(files_extra c64-1gib "$s" 7 list) |"
  done

  if [[ -n ${SERVER_URL[nodus]:-} ]]; then
    local r
    echo
    echo "### Goals"
    echo
    echo "| goal | measured | met |"
    echo "|---|--:|---|"
    if ((have_nginx)); then
      r=$(ratio "$(sample_stat files 1mib-c16 nodus rps)" "$(sample_stat files 1mib-c16 nginx rps)")
      echo "| 1mib-c16: nodus req/s ≥ 1.0 × nginx | ${r}× | $(files_ok "$r" 1.0) |"
      r=$(ratio "$(files_wrk_mbps nodus)" "$(files_wrk_mbps nginx)")
      echo "| 1mib-c16: nodus MB/s ≥ 1.0 × nginx | ${r}× | $(files_ok "$r" 1.0) |"
    fi
    if ((have_node)); then
      r=$(ratio "$(sample_stat files 1mib-c16 nodus rps)" "$(sample_stat files 1mib-c16 node rps)")
      echo "| 1mib-c16: nodus req/s ≥ 2 × node | ${r}× | $(files_ok "$r" 2.0) |"
      r=$(ratio "$(files_wrk_mbps nodus)" "$(files_wrk_mbps node)")
      echo "| 1mib-c16: nodus MB/s ≥ 2 × node | ${r}× | $(files_ok "$r" 2.0) |"
    fi
    if ((have_nginx)); then
      r=$(ratio "$(files_extra 1gib-single nodus 4)" "$(files_extra 1gib-single nginx 4)")
      echo "| 1gib-single: nodus MB/s ≥ 1.0 × nginx | ${r}× | $(files_ok "$r" 1.0) |"
    fi
    r=$(files_extra c64-1gib nodus 4 max)
    echo "| c64-1gib: nodus peak RSS growth < 4 MiB | $(fmt_mib "$r") | $(files_ok "$r" 4096 lt) |"
  fi

  echo
  echo "Exact curl commands of the two curl cases (per server, URL as in the wrk commands below):"
  echo
  echo '```sh'
  for s; do
    files_single_cmd_echo "$s"
  done
  echo '```'
}

files_single_cmd_echo() {
  local s=$1 url
  url=$(files_url "$s")
  echo "${WRK_PREFIX[*]:+${WRK_PREFIX[*]} }curl -s -o /dev/null --max-time $FILES_SINGLE_MAX -w '%{http_code} %{size_download} %{speed_download}\\n' $url  # $s, 1gib-single"
  echo "# $s, c64-1gib: $FILES_C64 of these at once" \
    "(${WRK_PREFIX[*]:+${WRK_PREFIX[*]} }curl -s -o /dev/null --max-time $FILES_C64_SECONDS -w '%{http_code} %{size_download}\\n' $url)"
}
