--[[
  One page of the one-time fill of the live set from the listing index, for runs created before
  the live set existed (an upgrade): adds every run of the page whose record has an unfinished status.

  KEYS[1] index key (sorted set, score = created ms)      KEYS[2] live-runs set
  ARGV[1] run key prefix (the run key is ARGV[1] .. id; same prefix, so the same Cluster slot, as
          create.lua derives keys)
  ARGV[2] min score, exclusive form '(<ms>' or '-inf'     ARGV[3] page size

  Returns {added, last score} — last score '' when the index has nothing after ARGV[2]. Entries that
  share the page's last score are all taken in this page, so '(' .. last as the next min skips none.
]]
local page = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], '+inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
if #page == 0 then return {0, ''} end
local last = page[#page]

local live = { queued = true, running = true, waiting = true, cancelling = true }
local function status(json)
  local s = string.match(json, '^{"run_id":"[^"\\]*","status":"(%l+)"')
  if s then return s end
  local ok, rec = pcall(cjson.decode, json)
  if ok and type(rec) == 'table' and type(rec.status) == 'string' then return rec.status end
  return nil
end

local added = 0
local function consider(id, score)
  local json = redis.call('GET', ARGV[1] .. id)
  if json and live[status(json)] then added = added + redis.call('ZADD', KEYS[2], 'NX', score, id) end
end

for i = 1, #page, 2 do
  if page[i + 1] ~= last then consider(page[i], page[i + 1]) end
end
local ties = redis.call('ZRANGEBYSCORE', KEYS[1], last, last)
for _, id in ipairs(ties) do consider(id, last) end
return {added, last}
