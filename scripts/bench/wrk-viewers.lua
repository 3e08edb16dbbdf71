-- wrk script of make bench-capacity (scripts/bench_capacity.py): requests as the load balancer sends
-- them, each from another viewer. The ALB puts the viewer's address in X-Forwarded-For; the tiers'
-- nginx trusts it from the VPC (set_real_ip_from: the lab's host is 10.0.2.2 there) and rate-limits
-- per viewer (web: 50 r/s per address). Without it every request would be one client's, and the web
-- page would measure its rate limit, not the instance. Addresses come from 198.18.0.0/15 (RFC 2544,
-- benchmarking), a different /16 per wrk thread; 65536 viewers per thread, round robin.
-- ARENA_WRK_METHOD: GET (default) or POST (the API's /v1/hits, empty body).
local method = os.getenv("ARENA_WRK_METHOD") or "GET"
local threads = 0

function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

local n = 0

function request()
  n = n + 1
  local viewer = string.format("198.%d.%d.%d", 18 + (thread_id or 0) % 2, math.floor(n / 256) % 256, n % 256)
  return wrk.format(method, nil, { ["X-Forwarded-For"] = viewer })
end
