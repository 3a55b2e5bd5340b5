"""The lease scripts of the order queue: each one Lua call, so claims, renewals and settlements are atomic.

``engine.queue`` explains the scheme (ready set, lease set, owners hash) and calls these.
"""

# KEYS = ready, leases, owners; ARGV = now_ms, lease_ms, worker token, most jobs, in-progress prefix.
CLAIM_LUA = """
local now = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(expired) do
    local owner = redis.call('HGET', KEYS[3], id)
    local score = owner and tonumber(string.match(owner, ' (.*)$')) or now
    redis.call('ZREM', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
    redis.call('ZADD', KEYS[1], score, id)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[4]))
for i = 1, #due, 2 do
    local id = due[i]
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZADD', KEYS[2], now + lease, id)
    redis.call('HSET', KEYS[3], id, ARGV[3] .. ' ' .. due[i + 1])
    redis.call('PSETEX', ARGV[5] .. id, lease, '1')
end
return due
"""

# KEYS = ready, leases, owners; ARGV = deadline_ms, lease_ms, worker token, in-progress prefix, then (job ID,
# queue score) pairs. Renews this worker's leases. One that lapsed unseen (Redis stalled or restarted past it)
# is taken back while no other worker holds it: out of the ready set if a claim returned it there, afresh if
# Redis lost it. Returns the IDs another worker holds now.
RENEW_LUA = """
local mine = ARGV[3] .. ' '
local lost = {}
for i = 5, #ARGV, 2 do
    local id = ARGV[i]
    local owner = redis.call('HGET', KEYS[3], id)
    if owner and string.sub(owner, 1, #mine) ~= mine then
        lost[#lost + 1] = id
    else
        if not owner then
            redis.call('ZREM', KEYS[1], id)
            redis.call('HSET', KEYS[3], id, mine .. ARGV[i + 1])
        end
        redis.call('ZADD', KEYS[2], ARGV[1], id)
        redis.call('PSETEX', ARGV[4] .. id, ARGV[2], '1')
    end
end
return lost
"""

# KEYS = ready, leases, owners, abort set; ARGV = job ID, worker token, finished ('1'/'0'), requeue score,
# result ('' for none), result ttl ms (0: forever), then the job, in-progress, retry and result prefixes.
# A finished job's keys go as arq's finish_job removes them, and an unfinished one goes back to the ready set,
# unless another worker took its lease over meanwhile: that worker runs the job now and settles it itself.
FINISH_LUA = """
local id = ARGV[1]
local owner = redis.call('HGET', KEYS[3], id)
local mine = owner and string.sub(owner, 1, #ARGV[2] + 1) == ARGV[2] .. ' '
if mine then
    redis.call('ZREM', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
    redis.call('DEL', ARGV[8] .. id)
end
if ARGV[3] == '1' and (mine or not owner) then
    if ARGV[5] ~= '' then
        if tonumber(ARGV[6]) > 0 then
            redis.call('SET', ARGV[10] .. id, ARGV[5], 'PX', ARGV[6])
        else
            redis.call('SET', ARGV[10] .. id, ARGV[5])
        end
    end
    redis.call('DEL', ARGV[9] .. id, ARGV[7] .. id)
    redis.call('ZREM', KEYS[4], id)
    redis.call('ZREM', KEYS[1], id)
elseif mine then
    redis.call('ZADD', KEYS[1], ARGV[4], id)
end
return mine and 1 or 0
"""
