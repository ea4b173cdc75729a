"""The shared budget's Lua script: the whole Redis protocol of :class:`~cartloader.budget.shared.SharedBudget`.

It mirrors :mod:`cartloader.budget.pacing` (each mirrored formula is marked with the Python function's name)
and the decisions of :class:`~cartloader.budget.local.RateBudget`; the constants come from there as
arguments, so they are written once.
"""

# KEYS: last (slot), state (hash), pause, members (zset), sent (zset), expected, held (zset)
# ARGV: id, take, cap_req, cap_win_us, has_cap, margin, obs_max, obs_remaining, obs_win_us,
#       obs_age_us, pause_us, expected, min_wait_us, ttl_us, min_reserve, edge_noise,
#       burst (1: burst pace, 0: even), answered, before_first_answer, seq,
#       then pairs (slot member, microseconds its hold moves later)
# "state" also holds the burst pace's estimate of others (cur, began, prev: pacing.highest_lower; backlog,
# backlog_until: the first answer's count, held one window only: pacing.burst_others).
# "sent" holds when each slot was taken; "held" the same, moved to the latest its request can have reached
# HubSpot once answered (burst pace: a place is held a window after that, and others are measured with it).
# Returns: wait_us, limit_req, limit_win_us, members, interval_us, others_milli, paused_us, granted, burst
SCRIPT = """
local last_key, state_key, pause_key, members_key, sent_key, expected_key, held_key =
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local id = ARGV[1]
local take = tonumber(ARGV[2])
local cap_req, cap_win, has_cap = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local margin = tonumber(ARGV[6])
local obs_max, obs_rem = tonumber(ARGV[7]), tonumber(ARGV[8])
local obs_win, obs_age = tonumber(ARGV[9]), tonumber(ARGV[10])
local pause_us, expected_n = tonumber(ARGV[11]), tonumber(ARGV[12])
local min_wait, ttl = tonumber(ARGV[13]), tonumber(ARGV[14])
local min_reserve, edge_noise = tonumber(ARGV[15]), tonumber(ARGV[16])
local burst_pace, answered_here = tonumber(ARGV[17]) == 1, tonumber(ARGV[18]) == 1
local before_first, seq = tonumber(ARGV[19]), ARGV[20]

local function int(x) return string.format('%.0f', x) end
-- pacing.guard_s
local function guard(win) return win * (1 - margin) end
-- pacing.reserve
local function reserve_of(req) return math.max(req * (1 - margin), min_reserve) end
-- pacing.burst_capacity
local function burst_capacity(req, drawn_by_others)
    local drawn = math.floor(drawn_by_others + 1e-9)
    return math.max(1, math.floor(req - drawn - math.min(drawn, reserve_of(req))))
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ttl_ms = math.ceil(ttl / 1000)

-- pacing.next_burst_slot
local function next_burst_slot(span, capacity)
    local kth = redis.call('ZREVRANGE', held_key, capacity - 1, capacity - 1, 'WITHSCORES')
    if #kth == 0 then return now end
    return math.max(now, tonumber(kth[2]) + span)
end

-- RateBudget._hold_until_arrived, for this participant's answered requests
for i = 21, #ARGV - 1, 2 do
    local held = redis.call('ZSCORE', held_key, ARGV[i])
    if held then redis.call('ZADD', held_key, int(tonumber(held) + tonumber(ARGV[i + 1])), ARGV[i]) end
end

redis.call('ZADD', members_key, int(now), id)
redis.call('ZREMRANGEBYSCORE', members_key, '-inf', int(now - ttl))
redis.call('PEXPIRE', members_key, ttl_ms)
local members = redis.call('ZCARD', members_key)

if expected_n > 0 then
    local current = tonumber(redis.call('GET', expected_key) or '0')
    if expected_n > current then redis.call('SET', expected_key, int(expected_n), 'PX', ttl_ms) end
end
local expected = tonumber(redis.call('GET', expected_key) or '0')

local state = redis.call('HMGET', state_key, 'adv_req', 'adv_win', 'others', 'observed_at', 'since', 'answered',
                         'fresh', 'spaced_until', 'cur', 'began', 'prev', 'backlog', 'backlog_until')
local adv_req, adv_win = tonumber(state[1]), tonumber(state[2])
local others, observed_at = tonumber(state[3]) or 0, tonumber(state[4])
local since, answered = tonumber(state[5]), state[6] == '1'
local fresh, spaced_until = state[7] == '1', tonumber(state[8]) or 0
local cur, began, prev = tonumber(state[9]) or 0, tonumber(state[10]), tonumber(state[11]) or 0
-- Burst pace: what HubSpot's first answer counted that is not ours, and until when it can still be in the window.
local backlog, backlog_until = tonumber(state[12]) or 0, tonumber(state[13]) or 0
if not since then
    since = now
    -- A budget started afresh has no slots before this moment; one recreated after Redis lost it (a
    -- participant rejoins expecting others) may have had some, and measures only windows it fully covers.
    fresh = expected_n == 0
    redis.call('HSET', state_key, 'since', int(now), 'fresh', fresh and '1' or '0')
end
if (answered_here or obs_max > 0) and not answered then
    answered = true
    redis.call('HSET', state_key, 'answered', '1')
end
if obs_max > 0 then
    adv_req = obs_max
    if obs_win > 0 then adv_win = obs_win elseif not adv_win then adv_win = cap_win end
    redis.call('HSET', state_key, 'adv_req', int(adv_req), 'adv_win', int(adv_win))
    local sent_at = now - obs_age
    if obs_rem >= 0 and (fresh or sent_at - adv_win >= since) then
        if burst_pace then
            if not observed_at then
                -- pacing.first_others, held one window only (RateBudget.observe): a backlog
                backlog, backlog_until = math.max(0, obs_max - obs_rem - 1), now + adv_win
            else
                -- pacing.lower_others
                local possibly = redis.call('ZCOUNT', held_key, '(' .. int(sent_at - adv_win), '+inf')
                local measured = math.max(0, obs_max - obs_rem - possibly)
                -- pacing.highest_lower
                if not began or now - began >= adv_win then
                    cur, began, prev = measured, now, cur
                else
                    cur = math.max(cur, measured)
                end
            end
            -- pacing.burst_others
            others = math.max(cur, prev, now < backlog_until and backlog or 0)
        else
            -- pacing.measured_others
            local ours = redis.call('ZCOUNT', sent_key, '(' .. int(sent_at - adv_win), int(sent_at))
            local measured = math.max(0, obs_max - obs_rem - ours - edge_noise)
            -- pacing.smoothed_others
            if measured >= others then
                others = measured
            else
                others = measured + (others - measured) * math.exp(-(now - (observed_at or now)) / adv_win)
            end
        end
        redis.call('HSET', state_key, 'others', tostring(others), 'observed_at', int(now),
                   'cur', tostring(cur), 'prev', tostring(prev),
                   'backlog', tostring(backlog), 'backlog_until', int(backlog_until))
        if began then redis.call('HSET', state_key, 'began', int(began)) end
    end
end
-- RateBudget._next: the first answer's count has left the window: estimate without it (pacing.burst_others).
if backlog > 0 and now >= backlog_until then
    backlog = 0
    others = math.max(cur, prev)
    redis.call('HSET', state_key, 'backlog', '0', 'others', tostring(others))
end
-- The window in force: the cap, lowered to what HubSpot advertises.
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

-- What each rolling window allows (RateBudget._respace): HubSpot's (advertised, or its lowest tier -- passed as
-- the cap -- while neither is known), the hard cap, and before the first answer a few requests.
local share = 1
if expected > members then share = members / expected end
local rules = {}
local burst = 1
local hub_req, hub_win = adv_req, adv_win
if not hub_req and has_cap == 0 then hub_req, hub_win = cap_req, cap_win end
if burst_pace then
    if hub_req then
        rules[#rules + 1] = {hub_win + guard(hub_win), math.max(1, math.floor(burst_capacity(hub_req, others) * share))}
    end
    if has_cap == 1 then
        rules[#rules + 1] = {cap_win + guard(cap_win), math.max(1, math.floor(burst_capacity(cap_req, 0) * share))}
    end
    burst = rules[1][2]
    for i = 2, #rules do burst = math.min(burst, rules[i][2]) end
end
if not answered then
    local first = before_first
    if burst_pace then first = math.min(first, burst) end
    rules[#rules + 1] = {win + guard(win), math.max(1, first)}
    if burst_pace then burst = math.min(burst, first) end
end

-- pacing.reserve and pacing.spacing_s
local reserved = math.max(req * (1 - margin), min_reserve)
local interval = win / math.max(1, req - reserved - others)
if expected > members then interval = interval * expected / members end

-- Recreated after Redis lost it, the log misses what went meanwhile (participants on their own, each at its
-- share): pace evenly until every participant is back and the log covers a whole window again.
if not fresh and (spaced_until == 0 or expected > members or expected_n > 0) then
    local longest = math.max(win, cap_win)
    spaced_until = math.max(spaced_until, now + longest + guard(longest))
    redis.call('HSET', state_key, 'spaced_until', int(spaced_until))
end
local spaced = not burst_pace or now < spaced_until

local wait, granted = 0, 0
if take == 1 then
    local slot = math.max(now + min_wait, paused_until)
    if spaced then
        -- GCRA, spaced from the last slot with the interval in force now, so a change applies at once.
        local last = tonumber(redis.call('GET', last_key) or '0')
        slot = math.max(slot, last + interval)
    end
    for _, rule in ipairs(rules) do slot = math.max(slot, next_burst_slot(rule[1], rule[2])) end
    -- RateBudget._next: look again once the backlog has left (a slot reserved ahead keeps the rules in force).
    if not spaced and backlog > 0 and slot > backlog_until then
        slot = math.max(now + min_wait, backlog_until, paused_until)
    end
    -- Even pace reserves its slot ahead; burst pace takes one only when it is free now (a later call may
    -- find more free, e.g. once the first answer came).
    if spaced or slot <= now then
        if spaced then
            redis.call('SET', last_key, int(slot), 'PX', math.ceil((slot - now) / 1000) + ttl_ms)
        end
        local member = id .. ':' .. seq
        local horizon = int(now - 2 * math.max(win, cap_win))
        local keep_ms = math.max(ttl_ms, math.ceil(2 * math.max(win, cap_win) / 1000))
        for _, key in ipairs({sent_key, held_key}) do
            redis.call('ZADD', key, int(slot), member)
            redis.call('ZREMRANGEBYSCORE', key, '-inf', horizon)
            redis.call('PEXPIRE', key, keep_ms)
        end
        granted = 1
    end
    wait = slot - now
end
return {math.floor(wait), math.floor(req), math.floor(win), members, math.floor(interval),
        math.floor(others * 1000), math.floor(math.max(0, paused_until - now)), granted, burst}
"""
