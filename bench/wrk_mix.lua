-- wrk script: POSTs the live mix of webhooks (bench/mix.py), each with a part id of its own.
-- The bodies are loaded from the file named by the first script argument: one per line,
-- with the id marks that bench/mix.py puts in.
local bodies = {}
local count = 0
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }

function init(args)
  for line in io.lines(args[1]) do
    table.insert(bodies, line)
  end
  -- Each wrk thread numbers its parts from its own base, so ids never repeat.
  count = tonumber(args[2] or "0")
end

function request()
  count = count + 1
  local template = bodies[(count % #bodies) + 1]
  local body = template:gsub("111111111111", tostring(1000000000 + count))
  body = body:gsub("222222222222", tostring(1000000000 + math.floor(count / 5)))
  body = body:gsub("333333333333", tostring(3000000000 + count))
  return wrk.format("POST", "/webhooks/dashly", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bad_status=%d socket_errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
