# Scenario `hash`: SHA-256 of a 64 MiB file, streamed through the hasher (issue 5).
# shellcheck source=loadtest/scenarios/bench_inputs.bash
source "$LT_DIR/scenarios/bench_inputs.bash"

SCENARIO_SERVERS=(nodus node)

SCENARIO_ABOUT="GET /hash/files/images/bench/64mib.bin?alg=sha256: SHA-256 of a 64 MiB file (in the \
page cache), one request at a time; MB/s = req/s x 64 MiB. nodus preads 1 MiB chunks inside \
pool jobs; Node pipes fs.createReadStream (64 KiB chunks) into crypto.createHash on its main \
thread. Compare with \`openssl speed -evp sha256\` on one core (see the README's numbers). \
Goals (issue 5): >= 0.9x openssl speed per worker, >= 1.5x Node."

scenario_define() {
  bench_inputs
  add_case c1 '/hash/files/images/bench/64mib.bin?alg=sha256' -t1 -c1
  add_goal c1 node rps 1.5
}
