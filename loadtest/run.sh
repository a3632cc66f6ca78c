#!/usr/bin/env bash
# Measures nodus against its peers (nginx, Node) with wrk, side by side, and writes
# loadtest/RESULTS.md. Targets 127.0.0.1 only; every process it starts is stopped on exit.
# See loadtest/README.md.
set -euo pipefail

LT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$LT_DIR")
for lib in common servers scenario measure report; do
  # shellcheck source=/dev/null
  source "$LT_DIR/lib/$lib.sh"
done

usage() {
  cat <<EOF
Usage: loadtest/run.sh [options] [scenario...]      (default: every scenario)
  --duration D    length of each measured wrk run, e.g. 10s, 1m (default 10s, at most 5m)
  --runs N        interleaved rounds per case; figures are medians (default 3, at least 3)
  --warmup D      unmeasured wrk run per server and case first (default 2s)
  --servers LIST  only these servers, e.g. nodus,nginx (default: the scenario's list)
  --no-build      use the existing build/release/app/nodus
  --nodus PATH    use this nodus binary instead of building (implies --no-build)
  --no-pin        do not pin servers and wrk to CPUs
  --nice N        run servers and wrk at this niceness, and this session's autogroup too
                  (default -20 as root, else none; --nice "" to turn off)
  --quiet-wait S  before each run, wait up to S seconds for a quiet machine: no compiler
                  running, under 15% of a core busy (default 120)
  --retries N     repeat a run during which other processes used > 50% of a core, up to
                  N times (default 2)
  --quiet-budget S  total waiting for quiet over the whole run; once spent, no more waiting
                  or repeating (default 1800)
  --report-only   only rebuild RESULTS.md from loadtest/sections and loadtest/results
Scenarios: $(list_scenarios | paste -sd' ')
EOF
}

# Defaults; parse_args overrides them.
DURATION=10s WARMUP=2s RUNS=3 ONLY_SERVERS="" BUILD=1 PIN_CPUS=1 QUIET_WAIT=120 RETRIES=2
NICE=$( ((EUID == 0)) && echo -20 || echo "")
QUIET_BUDGET=1800 QUIET_PCT=15 OTHER_MAX=50
REPORT_ONLY=0 SCENARIOS=()
NODUS_BIN=build/release/app/nodus

parse_args() {
  RUN_ARGS="$*"
  while (($#)); do
    case $1 in
      --duration) DURATION=$2; shift ;;
      --runs) RUNS=$2; shift ;;
      --warmup) WARMUP=$2; shift ;;
      --servers) ONLY_SERVERS=$2; shift ;;
      --no-build) BUILD=0 ;;
      --nodus) NODUS_BIN=$2 BUILD=0; shift ;;
      --no-pin) PIN_CPUS=0 ;;
      --nice) NICE=$2; shift ;;
      --quiet-wait) QUIET_WAIT=$2; shift ;;
      --retries) RETRIES=$2; shift ;;
      --quiet-budget) QUIET_BUDGET=$2; shift ;;
      --report-only) REPORT_ONLY=1 ;;
      -h | --help) usage; exit 0 ;;
      -*) usage >&2; die "unknown option '$1'" ;;
      *) SCENARIOS+=("$1") ;;
    esac
    shift
  done
  ((${#SCENARIOS[@]})) || mapfile -t SCENARIOS < <(list_scenarios)
  DURATION_S=$(seconds_of "$DURATION") && seconds_of "$WARMUP" >/dev/null
  ((DURATION_S >= 1 && DURATION_S <= 300)) || die "--duration must be 1s..5m"
  [[ $RUNS =~ ^[0-9]+$ ]] && ((RUNS >= 3 && RUNS <= 20)) || die "--runs must be 3..20"
}

# seconds_of D — "10s", "2m" or "10" in seconds; wrk takes the same forms.
seconds_of() {
  [[ $1 =~ ^([0-9]+)(s|m)?$ ]] || die "bad duration '$1' (use e.g. 10s or 1m)"
  if [[ ${BASH_REMATCH[2]} == m ]]; then echo $((BASH_REMATCH[1] * 60)); else echo "${BASH_REMATCH[1]}"; fi
}

# Servers on the last CPU, wrk on CPU 0: each server gets one core to itself, as the
# issue's goal states (--loops 1 vs one nginx worker vs one Node process). Both at high
# priority (root only), so other people's builds on a shared machine take little of it.
setup_prefixes() {
  SERVER_CPU=$(($(nproc) - 1)) WRK_CPU=0
  SERVER_PREFIX=() WRK_PREFIX=()
  [[ -n $NICE ]] && SERVER_PREFIX=(nice -n "$NICE") WRK_PREFIX=(nice -n "$NICE")
  if [[ $PIN_CPUS == 1 ]] && ((SERVER_CPU > 0)); then
    SERVER_PREFIX+=(taskset -c "$SERVER_CPU") WRK_PREFIX+=(taskset -c "$WRK_CPU")
  else
    PIN_CPUS=0
  fi
}

# With sched_autogroup (Linux default), nice only ranks processes within one session; other
# sessions' builds still get an equal share. So the session's autogroup gets NICE too, and
# cleanup puts it back.
raise_autogroup_priority() {
  [[ -n $NICE && -w /proc/self/autogroup ]] || return 0
  AUTOGROUP_NICE=$(awk '{ print $3 }' /proc/self/autogroup)
  echo "$NICE" >/proc/self/autogroup || AUTOGROUP_NICE=""
}

check_tools() {
  local t
  for t in wrk nginx node curl ss taskset timeout cmake; do
    command -v "$t" >/dev/null || die "'$t' not found; run: scripts/install-deps.sh loadtest"
  done
}

build_nodus() {
  if [[ $BUILD == 1 ]]; then
    log "building nodus (release preset)"
    cmake --preset release >"$OUT_DIR/build.log" 2>&1 &&
      cmake --build --preset release --target nodus >>"$OUT_DIR/build.log" 2>&1 ||
      die "build failed; see $OUT_DIR/build.log"
  fi
  [[ -x $NODUS_BIN ]] || die "$NODUS_BIN not found (build it, or drop --no-build)"
}

# run_scenario NAME — start its servers, measure every case, write its section.
run_scenario() {
  local name=$1 servers
  load_scenario "$name"
  mapfile -t servers < <(scenario_servers)
  ((${#servers[@]})) || die "scenario '$name': no server left after --servers"
  log "scenario $name: cases ${CASES[*]}; servers ${servers[*]}"
  SERVER_URL=() SERVER_CMD=() LATENCY_FOOTNOTE=0
  start_servers "${servers[@]}"
  run_cases "$name" "${servers[@]}"
  if declare -F scenario_after_cases >/dev/null; then scenario_after_cases "${servers[@]}"; fi
  write_section "$name" "${servers[@]}"
  stop_servers
}

main() {
  parse_args "$@"
  cd "$REPO_DIR"
  if [[ $REPORT_ONLY == 1 ]]; then write_results; return; fi
  check_tools
  setup_prefixes
  OUT_DIR="$LT_DIR/out/$(date +%Y%m%d-%H%M%S)"
  mkdir -p "$OUT_DIR"
  TMP_DIR=$(mktemp -d /tmp/nodus-loadtest.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  raise_autogroup_priority
  log "raw output in $OUT_DIR"
  if [[ -z $ONLY_SERVERS || ,$ONLY_SERVERS, == *,nodus,* ]]; then build_nodus; else BUILD=0; fi
  local s
  for s in "${SCENARIOS[@]}"; do run_scenario "$s"; done
  write_results
}

main "$@"
