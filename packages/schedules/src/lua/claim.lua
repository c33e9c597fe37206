--[[
  Claims one tick of a schedule before its run is submitted, and applies the overlap policy.

  KEYS[1] schedule state hash        KEYS[2] schedule ticks stream      KEYS[3] schedule definition
  ARGV[1] tick key (fire time ms, or manual:<ms>)      ARGV[2] claim token
  ARGV[3] '1' = overlap skip, '0' = allow              ARGV[4] now ms (the caller's, for the history)
  ARGV[5] claim lifetime ms, by Redis' clock (TIME)                            ARGV[6] run key prefix ("<prefix>run:")
  ARGV[7] created_at of the definition the tick read

  Returns
    {'gone'}          the schedule was deleted since the tick read it (or deleted and created again:
                      another created_at); nothing is written, so a deleted schedule leaves no keys
    {'ok'}            claimed: submit the run, then settle.lua with the same token
    {'busy'}          another tick of this schedule is being submitted right now; try again
    {'done', runId}   this tick already started runId (a re-delivered tick)
    {'skip', runId}   overlap skip: the schedule's last run runId has not finished
    {'stale'}         a fire time older than the newest this schedule has claimed, which its tick
                      history does not show as fired: a finished tick retried by hand (bull-board's
                      retry of a completed job) long after, when its run may have expired. Nothing is
                      written: no run, no skip counted.

  The last run's key is derived from ARGV[6] as create.lua derives keys: with a hash-tagged prefix
  it lies in the same slot. A run whose record is gone (expired, deleted) or unreadable counts as
  finished, so a broken record never stops a schedule for good.
]]
local def = redis.call('GET', KEYS[3])
local ok, parsed = pcall(cjson.decode, def or '')
if not ok or type(parsed) ~= 'table' or parsed['created_at'] ~= ARGV[7] then return {'gone'} end

local tick = ARGV[1]
local token = ARGV[2]
local now = tonumber(ARGV[4])
-- a claim's life is measured on Redis' clock: two claimers on hosts whose clocks disagree would
-- otherwise see a crashed one's claim live for as long as its clock was ahead (until 2026-11-29, clock-skew
-- probe: a claimer 10 min ahead left its schedule busy for 10 min)
local time = redis.call('TIME')
local redisNow = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local claim = redis.call('HMGET', KEYS[1], 'claim', 'claim_until', 'last_tick', 'last_run_id', 'last_skip_tick', 'max_tick')
if claim[1] and claim[1] ~= token and tonumber(claim[2] or '0') > redisNow then return {'busy'} end
if claim[3] == tick and claim[4] then return {'done', claim[4]} end

-- a fire time (manual:<ms> is not one) older than the newest claimed: the run it started if the
-- history has it (a tick re-delivered after later ones), otherwise refused. max_tick is kept since
-- 2026-11-29; before, last_tick and last_skip_tick are what a schedule has.
local at = tonumber(tick)
if at then
  local newest = math.max(tonumber(claim[6] or '') or 0, tonumber(claim[3] or '') or 0, tonumber(claim[5] or '') or 0)
  if at < newest then
    for _, entry in ipairs(redis.call('XREVRANGE', KEYS[2], '+', '-')) do
      local f = {}
      for i = 1, #entry[2], 2 do f[entry[2][i]] = entry[2][i + 1] end
      if f['tick'] == tick and f['outcome'] == 'fired' and f['run_id'] then return {'done', f['run_id']} end
    end
    return {'stale'}
  end
  if at > newest then redis.call('HSET', KEYS[1], 'max_tick', tick) end
end

local last = claim[4]
if ARGV[3] == '1' and last then
  local raw = redis.call('GET', ARGV[6] .. last)
  if raw then
    local ok, rec = pcall(cjson.decode, raw)
    local status = ok and type(rec) == 'table' and rec['status'] or nil
    if status ~= nil and status ~= 'succeeded' and status ~= 'failed' and status ~= 'cancelled' then
      -- a re-delivered skipped tick is not counted twice
      if claim[5] ~= tick then
        redis.call('HINCRBY', KEYS[1], 'skipped', 1)
        redis.call('HSET', KEYS[1], 'last_skip_tick', tick, 'last_skip_at', now)
        redis.call('XADD', KEYS[2], 'MAXLEN', '~', 1000, '*', 'tick', tick, 'outcome', 'skipped', 'run_id', last, 'at', now)
      end
      return {'skip', last}
    end
  end
end

redis.call('HSET', KEYS[1], 'claim', token, 'claim_until', redisNow + tonumber(ARGV[5]))
return {'ok'}
