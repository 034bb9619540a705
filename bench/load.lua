-- wrk script for bench/load.py: count every response that is not 200 (plain wrk only counts
-- statuses > 399, so a 302 to the login page would pass as a success), summed over wrk's threads,
-- and print the latency percentiles; both as machine-readable lines after wrk's own summary:
--   not200 <count>
--   percentiles <p50_us> <p95_us> <p99_us>

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   not200 = 0
end

function response(status, headers, body)
   if status ~= 200 then
      not200 = not200 + 1
   end
end

function done(summary, latency, requests)
   local total = 0
   for _, thread in ipairs(threads) do
      total = total + (thread:get("not200") or 0)
   end
   io.write(string.format("not200 %d\n", total))
   io.write(string.format("percentiles %d %d %d\n",
      latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
