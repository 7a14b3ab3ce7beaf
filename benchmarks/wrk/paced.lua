-- GET one path (the URL's) at a fixed pace: each connection waits DELAY_MS before each of its requests, so C
-- connections send about C * 1000 / DELAY_MS requests/s as long as the answers come back faster than that (wrk's
-- delay(); wrk itself costs far less CPU per request than a client in Python). AUTHORIZATION, when set, is sent as
-- the Authorization header. Prints a JSON summary at the end; "status" counts the answers that were not 2xx/3xx.
local pause = tonumber(os.getenv("DELAY_MS") or "0")
local authorization = os.getenv("AUTHORIZATION")

function init(args)
  if authorization and authorization ~= "" then
    wrk.headers["Authorization"] = authorization
  end
end

function delay()
  return pause
end

function done(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout))
end
