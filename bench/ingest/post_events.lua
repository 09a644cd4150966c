-- wrk script: POST seed 000 events to /api/v1/events, BATCH events per request, unique event ids.
-- Environment: OWNLAY_BENCH_KEY (API key), OWNLAY_BENCH_BATCH (events per request, default 1),
-- OWNLAY_BENCH_RUN (a number that keeps ids of separate runs apart), OWNLAY_BENCH_ORIGIN (an
-- `Origin` header to send, as a browser on that origin does; none by default).

local threads = {}
local counter = 0
local run = tonumber(os.getenv("OWNLAY_BENCH_RUN") or "0")
local batch = tonumber(os.getenv("OWNLAY_BENCH_BATCH") or "1")
local api_key = os.getenv("OWNLAY_BENCH_KEY")
local headers = {["Content-Type"] = "application/json", ["X-Ownlay-Api-Key"] = api_key}
if os.getenv("OWNLAY_BENCH_ORIGIN") then
  headers["Origin"] = os.getenv("OWNLAY_BENCH_ORIGIN")
end

-- `thread_id` is a global on purpose: wrk's thread:set writes globals of the thread's Lua state.
function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

local function event()
  counter = counter + 1
  return string.format(
    '{"event_id":"%08x-0000-4000-8000-%04x%08x","event_type":"purchase",' ..
    '"timestamp":"%s","user_id":"user_%d","session_id":"sess_9f2a",' ..
    '"email":"jane.doe@example.com","properties":{"revenue":99.99,"currency":"USD"},' ..
    '"context":{"ip":"203.0.113.77","user_agent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 ' ..
    'like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 ' ..
    'Safari/604.1","page":{"url":"https://shop.example.com/thanks?gclid=Cj0&utm_source=google"}}}',
    run, thread_id, counter, os.date("!%Y-%m-%dT%H:%M:%SZ"), counter % 5000)
end

function request()
  local events = {}
  for i = 1, batch do
    events[i] = event()
  end
  local body = batch == 1 and events[1] or ("[" .. table.concat(events, ",") .. "]")
  return wrk.format("POST", nil, headers, body)
end
