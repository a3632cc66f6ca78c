-- Prints one line the runner parses when the run ends:  WRK_JSON {...}
-- Latencies are in microseconds. Used alone (-s report.lua) or loaded by other scripts.
--
-- Scripts that pipeline set `pipelined = true`: wrk then records one latency sample per
-- batch, and its coordinated-omission correction (stats_correct, interval computed per
-- response) fills the histogram with samples below its minimum, so percentiles read 0 or
-- are meaningless. "latency_valid":0 tells the runner not to report them.
function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"rps":%.1f,"bytes":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,"latency_valid":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.requests / secs, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, pipelined and 0 or 1,
    e.connect, e.read, e.write, e.status, e.timeout))
end
