--[[
  Writes a schedule's definition. A definition that is not there yet starts with nothing: whatever an
  earlier schedule of the same id left (its state, runs, ticks) is deleted in the same step.

  KEYS[1] definition        KEYS[2] state hash      KEYS[3] runs zset      KEYS[4] ticks stream
  KEYS[5] set of schedule ids
  ARGV[1] definition JSON   ARGV[2] schedule id     ARGV[3] 'create' (only if absent) | 'replace'

  Returns 1 when written, 0 when ARGV[3] is 'create' and the definition exists (created meanwhile).
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  if ARGV[3] == 'create' then return 0 end
else
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[2])
return 1
