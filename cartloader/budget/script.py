"""The shared budget's Lua script: the whole Redis protocol of :class:`~cartloader.budget.shared.SharedBudget`.

It mirrors :mod:`cartloader.budget.pacing` (each mirrored formula is marked with the Python function's name);
the constants come from there as arguments, so they are written once.
"""

# KEYS: last (slot), state (hash), pause, members (zset), sent (zset), expected
# ARGV: id, reserve, cap_req, cap_win_us, has_cap, margin, obs_max, obs_remaining, obs_win_us,
#       obs_age_us, pause_us, expected, min_wait_us, ttl_us, min_reserve, edge_noise
# Returns: wait_us, limit_req, limit_win_us, members, interval_us, others_milli, paused_us
SCRIPT = """
local last_key, state_key, pause_key, members_key, sent_key, expected_key =
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id = ARGV[1]
local reserve = tonumber(ARGV[2])
local cap_req, cap_win, has_cap = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local margin = tonumber(ARGV[6])
local obs_max, obs_rem = tonumber(ARGV[7]), tonumber(ARGV[8])
local obs_win, obs_age = tonumber(ARGV[9]), tonumber(ARGV[10])
local pause_us, expected_n = tonumber(ARGV[11]), tonumber(ARGV[12])
local min_wait, ttl = tonumber(ARGV[13]), tonumber(ARGV[14])
local min_reserve, edge_noise = tonumber(ARGV[15]), tonumber(ARGV[16])

local function int(x) return string.format('%.0f', x) end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ttl_ms = math.ceil(ttl / 1000)

redis.call('ZADD', members_key, int(now), id)
redis.call('ZREMRANGEBYSCORE', members_key, '-inf', int(now - ttl))
redis.call('PEXPIRE', members_key, ttl_ms)
local members = redis.call('ZCARD', members_key)

if expected_n > 0 then
    local current = tonumber(redis.call('GET', expected_key) or '0')
    if expected_n > current then redis.call('SET', expected_key, int(expected_n), 'PX', ttl_ms) end
end
local expected = tonumber(redis.call('GET', expected_key) or '0')

local state = redis.call('HMGET', state_key, 'adv_req', 'adv_win', 'others', 'observed_at', 'since')
local adv_req, adv_win = tonumber(state[1]), tonumber(state[2])
local others, observed_at = tonumber(state[3]) or 0, tonumber(state[4]) or now
local since = tonumber(state[5])
if not since then
    since = now
    redis.call('HSET', state_key, 'since', int(now))
end
if obs_max > 0 then
    adv_req = obs_max
    if obs_win > 0 then adv_win = obs_win elseif not adv_win then adv_win = cap_win end
    redis.call('HSET', state_key, 'adv_req', int(adv_req), 'adv_win', int(adv_win))
    local sent_at = now - obs_age
    -- Only a window the log of sent slots fully covers tells others' share apart from ours
    -- (not so right after a Redis restart, or for answers to requests sent while Redis was away).
    if obs_rem >= 0 and sent_at - adv_win >= since then
        local ours = redis.call('ZCOUNT', sent_key, '(' .. int(sent_at - adv_win), int(sent_at))
        -- pacing.measured_others
        local measured = math.max(0, obs_max - obs_rem - ours - edge_noise)
        -- pacing.smoothed_others
        if measured >= others then
            others = measured
        else
            others = measured + (others - measured) * math.exp(-(now - observed_at) / adv_win)
        end
        redis.call('HSET', state_key, 'others', tostring(others), 'observed_at', int(now))
    end
end
local req, win = cap_req, cap_win
if adv_req and adv_win and (has_cap == 0 or adv_req / adv_win < cap_req / cap_win) then
    req, win = adv_req, adv_win
end
redis.call('PEXPIRE', state_key, math.max(ttl_ms, math.ceil(20 * win / 1000)))

local paused_until = tonumber(redis.call('GET', pause_key) or '0')
if pause_us > 0 and now + pause_us > paused_until then
    paused_until = now + pause_us
    redis.call('SET', pause_key, int(paused_until), 'PX', math.ceil(pause_us / 1000) + 1)
end

-- pacing.reserve and pacing.spacing_s
local reserved = math.max(req * (1 - margin), min_reserve)
local interval = win / math.max(1, req - reserved - others)
if expected > members then interval = interval * expected / members end

local wait = 0
if reserve == 1 then
    -- GCRA, spaced from the last slot with the interval in force now, so a change applies at once.
    local last = tonumber(redis.call('GET', last_key) or '0')
    local slot = math.max(last + interval, now + min_wait, paused_until)
    redis.call('SET', last_key, int(slot), 'PX', math.ceil((slot - now) / 1000) + ttl_ms)
    redis.call('ZADD', sent_key, int(slot), int(slot) .. ':' .. id)
    redis.call('ZREMRANGEBYSCORE', sent_key, '-inf', int(now - 2 * win))
    redis.call('PEXPIRE', sent_key, math.max(ttl_ms, math.ceil(2 * win / 1000)))
    wait = slot - now
end
return {math.floor(wait), math.floor(req), math.floor(win), members, math.floor(interval),
        math.floor(others * 1000), math.floor(math.max(0, paused_until - now))}
"""
