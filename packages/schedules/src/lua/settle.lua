--[[
  Records the run a claimed tick started (or releases the claim when submitting failed).

  KEYS[1] schedule state hash        KEYS[2] schedule ticks stream      KEYS[3] schedule runs zset
  KEYS[4] schedule definition
  ARGV[1] tick key       ARGV[2] claim token      ARGV[3] run id ('' = release the claim only)
  ARGV[4] now ms         ARGV[5] run created ms   ARGV[6] keep runs this long (ms, the run TTL)
  ARGV[7] created_at of the definition the tick claimed for

  Returns 1, or 0 when the schedule was deleted since the claim (or deleted and created again:
  another created_at): then nothing is written, so a deleted schedule leaves no keys behind and a new
  one of the same id does not inherit the old one's run. The claim is dropped only if it is still this
  token's.
]]
local def = redis.call('GET', KEYS[4])
local ok, parsed = pcall(cjson.decode, def or '')
if not ok or type(parsed) ~= 'table' or parsed['created_at'] ~= ARGV[7] then return 0 end

local token = ARGV[2]
local runId = ARGV[3]
local now = tonumber(ARGV[4])

-- a run already in the history was recorded by an earlier delivery of its tick: recording it again
-- could move last_run_id back to an older run (a stalled tick re-delivered after later ticks)
if runId ~= '' and not redis.call('ZSCORE', KEYS[3], runId) then
  redis.call('HSET', KEYS[1], 'last_tick', ARGV[1], 'last_run_id', runId, 'last_fired_at', now)
  redis.call('ZADD', KEYS[3], tonumber(ARGV[5]), runId)
  -- the runs behind older entries have expired; the cap bounds a very frequent schedule
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. (now - tonumber(ARGV[6])))
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -1001)
  redis.call('HINCRBY', KEYS[1], 'fired', 1)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', 1000, '*', 'tick', ARGV[1], 'outcome', 'fired', 'run_id', runId, 'at', now)
end

if redis.call('HGET', KEYS[1], 'claim') == token then redis.call('HDEL', KEYS[1], 'claim', 'claim_until') end
return 1
