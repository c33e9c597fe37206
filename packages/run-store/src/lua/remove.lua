--[[
  Deletes a run completely. Used to roll back a create whose enqueue failed, so no caller ever
  sees a run that no worker will pick up.

  KEYS[1] run key            KEYS[2] events key       KEYS[3] index key
  KEYS[4] live-runs set      KEYS[5] stats hash (the create's `created|<graph>` is taken back)
  KEYS[6] idempotency key    (optional; deleted only while it still names this run, so a newer
                              run that reused the key keeps it)
  ARGV[1] run id

  Returns
    {'removed'}     the run record existed
    {'not_found'}   it did not (events, index entry and idempotency key are cleaned anyway)
]]
local cur = redis.call('GET', KEYS[1])
local existed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
if KEYS[6] and redis.call('GET', KEYS[6]) == ARGV[1] then redis.call('DEL', KEYS[6]) end
-- a run that never was must not stay counted in sup_runs_created_total
local graph = cur and string.match(cur, '"graph":"([^"\\]*)"')
if graph then redis.call('HINCRBY', KEYS[5], 'created|' .. graph, -1) end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
if existed == 1 then return {'removed'} end
return {'not_found'}
