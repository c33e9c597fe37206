--[[
  Compare-and-set of a run record. Every status change goes through here, so a cancel, an
  operator's hand-SET status or another worker's claim is never overwritten blindly.

  KEYS[1] run key            KEYS[2] events key
  KEYS[3] stats hash (optional; given when the new status is final: the transition into a final
          status bumps `finished|<graph>|<status>` once, here, so no path can count it twice)
  KEYS[4] live-runs set (given with KEYS[3]; the run leaves it on that transition)
  KEYS[last] the run's idempotency key, when the record names one (`idem`): KEYS[3] of 3, KEYS[5]
          of 5. Its expiry is pushed to 2 × ttl from now, never shortened, so the key outlives
          the record and cannot start a second run while this one exists
  ARGV[1] allowed current statuses, comma-separated ("queued,waiting")
  ARGV[2] expected lease; '' = do not check the lease
  ARGV[3] new record JSON, stored verbatim (never re-encoded here: cjson turns [] into {})
  ARGV[4] ttl seconds, applied to both keys (TTL counts from the last write; longer for a parked run)
  ARGV[5] events channel ('' = none)   ARGV[6] message: the run id, published when events were appended
  ARGV[7] the stored JSON exactly as the caller read it; '' = do not check. For writers that do not
          own the run (an API cancel): the write happens only if nobody wrote the record since
  ARGV[8..] one event JSON each (without id), appended in order

  Returns
    {'ok'}
    {'not_found'}
    {'corrupt'}                   current value is not a JSON object with a string status
    {'status', <current status>}  current status is not in ARGV[1]
    {'lease', <current lease>}    lease differs; the second element is absent when it is null
    {'changed'}                   the record is not the one the caller read (ARGV[7])
]]
-- Records this store wrote begin {"run_id":"…","status":"…","lease":null|"…","graph":"…", (store.ts
-- puts those keys first), so the fields this script checks are read from the head of the string:
-- decoding a whole record with its snapshot and history was most of the script's cost. Anything
-- else — a hand-SET record, another key order, escapes — is decoded in full.
local function head(json)
  local status, at = string.match(json, '^{"run_id":"[^"\\]*","status":"(%l+)",()')
  if not status then return nil end
  local lease
  if string.sub(json, at, at + 12) == '"lease":null,' then
    at = at + 13
  else
    lease, at = string.match(json, '^"lease":"([^"\\]*)",()', at)
    if not lease then return nil end
  end
  local graph = string.match(json, '^"graph":"([^"\\]*)"', at)
  if not graph then return nil end
  return { status = status, lease = lease, graph = graph }
end

local function read(json)
  local rec = head(json)
  if rec then return rec end
  local decoded, full = pcall(cjson.decode, json)
  if decoded and type(full) == 'table' and type(full.status) == 'string' then return full end
  return nil
end

local stats, live, idem
if #KEYS == 3 then idem = KEYS[3] elseif #KEYS >= 4 then stats, live, idem = KEYS[3], KEYS[4], KEYS[5] end

-- The checks need only the head of the record: its first HEAD_BYTES are read, not the whole record
-- with its snapshot and history (a copy into Lua of every byte; ~10 % of this script's time for a
-- 2 KB record, more for larger ones). The whole value is read when the head does not answer (a
-- missing key, a hand-SET record, a head longer than that) or when ARGV[7] compares all of it.
local HEAD_BYTES = 512
local cur = redis.call('GETRANGE', KEYS[1], 0, HEAD_BYTES - 1)
local rec = cur ~= '' and head(cur)
if not rec or ARGV[7] ~= '' then
  cur = redis.call('GET', KEYS[1])
  if not cur then return {'not_found'} end
  rec = read(cur)
  if not rec then return {'corrupt'} end
end

local allowed = false
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == rec.status then allowed = true break end
end
if not allowed then return {'status', rec.status} end

if ARGV[2] ~= '' and rec.lease ~= ARGV[2] then
  if type(rec.lease) == 'string' then return {'lease', rec.lease} end
  return {'lease'}
end

if ARGV[7] ~= '' and cur ~= ARGV[7] then return {'changed'} end

-- the events first: an XADD Redis refuses (the key made another type by hand) then stops the
-- script before anything was written, instead of after the record changed
for i = 8, #ARGV do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'e', ARGV[i])
end
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
if idem then
  -- never shortened, and a key without expiry (-1) or gone (-2) left alone; TTL + EXPIRE rather
  -- than EXPIRE … GT, which needs Redis 7
  local keep = tonumber(ARGV[4]) * 2
  local left = redis.call('TTL', idem)
  if left >= 0 and left < keep then redis.call('EXPIRE', idem, keep) end
end
-- in the same script as the XADDs: a follower woken by this finds the events already there
if ARGV[5] ~= '' and #ARGV >= 8 then redis.call('PUBLISH', ARGV[5], ARGV[6]) end

local final = { succeeded = true, failed = true, cancelled = true }
if stats and not final[rec.status] then
  -- read only on the one commit per run that reaches a final status (KEYS[3] is absent otherwise)
  local new = read(ARGV[3])
  if new and final[new.status] then
    redis.call('HINCRBY', stats, 'finished|' .. tostring(new.graph or rec.graph) .. '|' .. new.status, 1)
    if live then redis.call('ZREM', live, ARGV[6]) end
  end
end
return {'ok'}
