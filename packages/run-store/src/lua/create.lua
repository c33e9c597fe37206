--[[
  Creates a run: record, idempotency key, first events and index entry, all or nothing.

  KEYS[1] run key            KEYS[2] events key       KEYS[3] index key (sorted set)
  KEYS[4] stats hash         (`created|<graph>` is bumped)
  KEYS[5] live-runs set      (sorted set like the index; commit.lua removes the run when it finishes)
  KEYS[6..5+n] secondary index keys (sorted sets per graph / agent / parent run / schedule, n = ARGV[5])
  KEYS[6+n] idempotency key  (optional; its value is the run id it was first used for)
  ARGV[1] record JSON, stored verbatim
  ARGV[2] ttl seconds        ARGV[3] created ms (index score)        ARGV[4] run id
  ARGV[5] n, the number of secondary index keys
  ARGV[6..] one event JSON each (without id), appended in order

  Returns
    {'created'}
    {'existing', <record JSON>, <run id>}  the idempotency key names a run that still exists
    {'exists'}                             a run with this id exists already; nothing written

  The previous run's key is derived from KEYS[1] (same prefix, other id), as BullMQ's scripts do
  for job keys: with a hash-tagged prefix it lies in the same slot.

  A record expires ttl after its LAST write, so a run that took hours outlives created + ttl. The
  index entries and the idempotency key are kept for 2 × ttl from creation: they cover every run
  that finished within ttl of its creation, for as long as it exists. A listing drops entries of
  runs that are gone, and a key whose run is gone is free again, so keeping them longer shows nothing
  stale.
]]
local ttl = ARGV[2]
local keep = tonumber(ttl) * 2
local trimBefore = '(' .. (tonumber(ARGV[3]) - keep * 1000)
local runId = ARGV[4]
local nIndexes = tonumber(ARGV[5])
local idemKey = KEYS[6 + nIndexes]

if idemKey then
  local prevId = redis.call('GET', idemKey)
  if prevId then
    local prevKey = string.sub(KEYS[1], 1, #KEYS[1] - #runId) .. prevId
    local prev = redis.call('GET', prevKey)
    if prev then return {'existing', prev, prevId} end
    -- the earlier run expired or was deleted: the key is free again
  end
end

if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ttl) then return {'exists'} end
if idemKey then redis.call('SET', idemKey, runId, 'EX', keep) end

for i = 6, #ARGV do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'e', ARGV[i])
end
redis.call('EXPIRE', KEYS[2], ttl)

redis.call('ZADD', KEYS[3], ARGV[3], runId)
-- not trimmed: an entry leaves when the run finishes, or when housekeeping finds the run gone
redis.call('ZADD', KEYS[5], ARGV[3], runId)
-- the index has no TTL of its own; entries older than 2 × ttl point at expired runs (see above)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', trimBefore)
-- the secondary indexes are trimmed the same way, and expire 2 × ttl after the newest run they were
-- given, so one of an agent that stopped creating runs does not stay behind
for i = 6, 5 + nIndexes do
  redis.call('ZADD', KEYS[i], ARGV[3], runId)
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', trimBefore)
  redis.call('EXPIRE', KEYS[i], keep)
end

-- the record's head names the graph (store.ts writes run_id, status, lease, graph first): read it
-- there, as commit.lua does. cjson refuses some valid records (a lone surrogate escape in the input),
-- which counted the run under graph "unknown"
local graph = string.match(ARGV[1], '^{"run_id":"[^"\\]*","status":"%l+","lease":[^,]*,"graph":"([^"\\]*)"')
if not graph then
  local decoded, rec = pcall(cjson.decode, ARGV[1])
  graph = decoded and type(rec) == 'table' and rec.graph or 'unknown'
end
redis.call('HINCRBY', KEYS[4], 'created|' .. tostring(graph), 1)
return {'created'}
