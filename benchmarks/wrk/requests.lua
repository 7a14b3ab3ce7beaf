-- Sends the requests of a file in turn (one per line: METHOD<TAB>PATH<TAB>BODY, BODY may be empty), each
-- thread from its own offset, and prints a JSON summary at the end. With IDEMPOTENCY=1 in the environment
-- every request carries a fresh Idempotency-Key. Extra headers come from HEADER_1..HEADER_3 ("Name: value");
-- AUTH_<n>, when set, is the bearer token of thread n (each thread a client of its own, with its own quota).
local requests, counter = {}, 0
thread_id = thread_id or 0
local threads = {}

local function headers()
  local h = {["Content-Type"] = "application/json"}
  for i = 1, 3 do
    local v = os.getenv("HEADER_" .. i)
    if v and v ~= "" then
      local name, value = v:match("^([^:]+):%s*(.*)$")
      h[name] = value
    end
  end
  return h
end

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local base = headers()
  for line in io.lines(args[1]) do
    local method, path, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
    if method then
      table.insert(requests, {method = method, path = path, body = (body ~= "" and body or nil)})
    end
  end
  counter = (thread_id * 7919) % #requests
  local token = os.getenv("AUTH_" .. thread_id)
  if token and token ~= "" then
    base["Authorization"] = "Bearer " .. token
  end
  wrk.headers = base
end

local idempotent = os.getenv("IDEMPOTENCY") == "1"

function request()
  counter = counter + 1
  local r = requests[(counter % #requests) + 1]
  if idempotent then
    local h = {}
    for k, v in pairs(wrk.headers) do h[k] = v end
    h["Idempotency-Key"] = string.format("bench-%d-%d-%d-%d", os.time(), math.random(1, 1e9), thread_id, counter)
    return wrk.format(r.method, r.path, h, r.body)
  end
  return wrk.format(r.method, r.path, nil, r.body)
end

function done(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d, "p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
