-- wrk script for Haven's search benchmark (see benches/run.sh and BENCHMARKS.md).
--
-- Cycles through the request paths listed, one per line, in the file named by the
-- HAVEN_BENCH_QUERIES environment variable (written by
-- `haven generate --queries N`). Each wrk thread starts at a different
-- offset so that concurrent connections do not ask the same question in lockstep.
-- With HAVEN_BENCH_INTERLEAVE set to the number of wrk threads, thread t instead asks
-- paths t+1, t+1+n, t+1+2n, ...: together the threads go through the list once, in order.
--
-- At the end it prints one machine-readable line, parsed by run.sh:
--   HAVEN_BENCH requests=.. duration_us=.. rps=.. p50_us=.. p90_us=.. p99_us=.. max_us=..
--               http_errors=.. connect_errors=.. read_errors=.. write_errors=.. timeouts=..

local threads = {}
local counter = 0

function setup(thread)
   thread:set("thread_index", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

local paths = {}
local i = 0
local step = 1

function init(args)
   local file = os.getenv("HAVEN_BENCH_QUERIES")
   if not file then
      error("HAVEN_BENCH_QUERIES is not set")
   end
   for line in io.lines(file) do
      if line ~= "" then
         table.insert(paths, line)
      end
   end
   if #paths == 0 then
      error("no queries in " .. file)
   end
   local interleave = tonumber(os.getenv("HAVEN_BENCH_INTERLEAVE") or "")
   if interleave and interleave > 0 then
      step = interleave
      i = (thread_index or 0) - step
   else
      -- Spread the threads' starting points over the list.
      i = math.floor((thread_index or 0) * #paths / 2) % #paths - 1
   end
end

function request()
   i = (i + step) % #paths
   return wrk.format("GET", paths[i + 1])
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "HAVEN_BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
      "http_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50.0), latency:percentile(90.0), latency:percentile(99.0), latency.max,
      e.status, e.connect, e.read, e.write, e.timeout))
end
