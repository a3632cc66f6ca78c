# Scenario registry. A scenario is loadtest/scenarios/<name>.sh; it sets SCENARIO_SERVERS and
# SCENARIO_ABOUT and defines `scenario_define`, which calls add_case and add_goal:
#
#   add_case ID PATH WRK_OPTION... [-- SCRIPT_ARG...]
#       one wrk measurement per server; `-s NAME` picks loadtest/wrk/NAME (default:
#       report.lua). The runner adds --latency, --timeout, -d and the URL.
#   add_background CASE PATH WRK_OPTION... [-- SCRIPT_ARG...]
#       while CASE is measured, a second wrk (same options syntax) loads PATH on the same
#       server, starting 1 s before the measured wrk and lasting until it ends.
#   add_goal CASE PEER rps|p99 RATIO [SERVER]
#       rps: SERVER's req/s >= RATIO × PEER's; p99: SERVER's p99 <= RATIO × PEER's. SERVER
#       defaults to nodus.
#
# Optional: SCENARIO_ROOT (the directory the servers serve files from, see servers.sh);
# SCENARIO_NODUS_ARGS (extra nodus flags, after the runner's: they win) and SCENARIO_NODE_FLAGS
# (node options before the peer's script, e.g. --trace-gc);
# `scenario_after_cases SERVER...` runs after the wrk cases with the servers still up, for
# measurements wrk cannot make; `scenario_section SERVER...` prints extra Markdown into the
# scenario's section (after the wrk tables).

CASES=()
GOALS=()
declare -A CASE_PATH=() CASE_ARGS=() CASE_BG_PATH=() CASE_BG_ARGS=()

add_case() {
  local id=$1 path=$2
  shift 2
  [[ -n ${CASE_PATH[$id]:-} ]] && die "scenario defines case '$id' twice"
  CASES+=("$id")
  CASE_PATH[$id]=$path
  local IFS=$'\x1f'
  CASE_ARGS[$id]="$*"
}

add_background() {
  local id=$1 path=$2
  shift 2
  [[ -n ${CASE_PATH[$id]:-} ]] || die "add_background: no case '$id'"
  CASE_BG_PATH[$id]=$path
  local IFS=$'\x1f'
  CASE_BG_ARGS[$id]="$*"
}

add_goal() {
  [[ ($# == 4 || $# == 5) && ($3 == rps || $3 == p99) ]] || die "add_goal CASE PEER rps|p99 RATIO [SERVER], got: $*"
  GOALS+=("$*")
}

list_scenarios() {
  local f
  for f in "$LT_DIR"/scenarios/*.sh; do basename "$f" .sh; done
}

# load_scenario NAME — reset the registry, source the file, run its scenario_define.
load_scenario() {
  local file="$LT_DIR/scenarios/$1.sh"
  [[ -f $file ]] || die "no scenario '$1' (have: $(list_scenarios | tr '\n' ' '))"
  CASES=() GOALS=() CASE_PATH=() CASE_ARGS=() CASE_BG_PATH=() CASE_BG_ARGS=()
  SCENARIO_SERVERS=() SCENARIO_ABOUT="" SCENARIO_ROOT="" SCENARIO_NODUS_ARGS=() SCENARIO_NODE_FLAGS=()
  unset -f scenario_define scenario_after_cases scenario_section
  # shellcheck source=/dev/null
  source "$file"
  declare -F scenario_define >/dev/null || die "$file defines no scenario_define"
  scenario_define
  ((${#CASES[@]})) || die "scenario '$1' has no cases"
}

# scenario_servers — SCENARIO_SERVERS filtered by --servers, in the scenario's order.
scenario_servers() {
  local s
  for s in "${SCENARIO_SERVERS[@]}"; do
    [[ -z $ONLY_SERVERS || ,$ONLY_SERVERS, == *,$s,* ]] && echo "$s"
  done
  return 0
}
