-- wrk script: send exactly N single-recipient send requests, each to a
-- different destination number, then stop.  Meant for one wrk thread (-t 1),
-- so the counters below are exact.
--
-- bench/legacy.sh drives Passerelle's `envoi` and bench/kannel.sh Kannel's
-- sendsms with this same script, so that both are measured the same way.
--
-- wrk -t1 -cC -d<bound>s -s sendsms.lua http://127.0.0.1:PORT -- \
--      N PATH_AND_QUERY OK_STATUS OK_BODY_PREFIX [FIRST_MSISDN [DEST_PARAM]]
--   PATH_AND_QUERY: path plus fixed query params; the script appends &DEST_PARAM=<msisdn>
--   DEST_PARAM:     name of the destination parameter (default "to")
--   OK_STATUS:      HTTP status meaning "accepted" (202 Kannel, 200 Jasmin)
--   OK_BODY_PREFIX: body must start with this ("-" = do not check; "~PATTERN" =
--                   body must match the Lua pattern PATTERN)
--
-- When the N-th answer arrives the script sends SIGINT to its own process:
-- wrk's main thread (sleeping for -d) wakes up and prints the summary at once,
-- so -d is only an upper bound.  Timing uses CLOCK_MONOTONIC via LuaJIT's ffi.

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } sendsms_timespec;
int clock_gettime(int clk_id, sendsms_timespec *tp);
int getpid(void);
int kill(int pid, int sig);
]]
local ts = ffi.new("sendsms_timespec")
local function now_us()
   ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
   return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

-- globals (not locals) so that done() can read them with thread:get()
total, path, ok_status, ok_prefix, first_msisdn, dest_param = 0, "", 200, nil, 491700000000, "to"
issued, answered, bad = 0, 0, 0
t_first_us, t_last_us = 0, 0
bad_sample = ""
threads = {}
-- wrk 4.1 calls request() once before the run (script_verify_request, to count
-- pipelined requests); the request built by that call is never sent.
VERIFY_CALLS = 1

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   total = tonumber(args[1])
   path = args[2]
   ok_status = tonumber(args[3])
   ok_prefix = args[4]
   if ok_prefix == "-" then ok_prefix = nil end
   first_msisdn = tonumber(args[5] or "491700000000")
   dest_param = args[6] or "to"
end

function request()
   issued = issued + 1
   if issued > total + VERIFY_CALLS then
      -- quota reached: nothing more on this connection (it idles until the
      -- last outstanding answer arrives and the run ends)
      return ""
   end
   if issued == VERIFY_CALLS + 1 then t_first_us = now_us() end
   return wrk.format("GET", path .. "&" .. dest_param .. "=" .. string.format("%d", first_msisdn + issued))
end

function response(status, headers, body)
   answered = answered + 1
   local ok = (status == ok_status)
   if ok and ok_prefix then
      if string.sub(ok_prefix, 1, 1) == "~" then
         if not string.find(body or "", string.sub(ok_prefix, 2)) then ok = false end
      elseif string.sub(body or "", 1, #ok_prefix) ~= ok_prefix then
         ok = false
      end
   end
   if not ok then
      bad = bad + 1
      if bad_sample == "" then bad_sample = tostring(status) .. " " .. string.sub(body or "", 1, 80) end
   end
   if answered == total then
      t_last_us = now_us()
      wrk.thread:stop()
      ffi.C.kill(ffi.C.getpid(), 2)  -- SIGINT: end wrk's -d sleep now
   end
end

function done(summary, latency, requests)
   local t = threads[1]
   local sample = string.gsub(t:get("bad_sample") or "", '[%c"\\]', " ")
   local first, last = t:get("t_first_us"), t:get("t_last_us")
   io.write(string.format(
      'WRKJSON {"answered": %d, "issued": %d, "non_success": %d, "wrk_duration_us": %d, ' ..
      '"send_window_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
      '"mean_us": %.1f, "err_connect": %d, "err_read": %d, "err_write": %d, ' ..
      '"err_status": %d, "err_timeout": %d, "bad_sample": "%s"}\n',
      summary.requests, math.min(t:get("issued") - VERIFY_CALLS, t:get("total")), t:get("bad"),
      summary.duration, (last > 0) and (last - first) or -1,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      latency.mean, summary.errors.connect, summary.errors.read, summary.errors.write,
      summary.errors.status, summary.errors.timeout, sample))
end
