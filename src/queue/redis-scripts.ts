// The Lua scripts of the Redis Streams backend. Each runs atomically in Redis; every key a script
// touches carries the queue's hash tag ({name}), so all of them live in one slot of a Redis Cluster.
// A job ready to run is a stream entry carrying what a worker needs to start it: i id, d data,
// a attempts so far, r readyAt, dl deadline ('' for none). Its state lives in one hash per job
// (prefix..id): s state, a attempts, r readyAt, dl deadline, e its stream entry, o owner consumer,
// c cancel requested, and d data only while the job is delayed (not in the stream). A new entry is
// thus started with one HSET and no read: a job cancelled while queued had its entry deleted. A
// completed job, the common end, is instead a plain string 'completed' under the same key, written
// by one SET that also drops the hash and sets its expiry (a hash would take HSET, HDEL and
// PEXPIRE): every read of a job key therefore goes through redis.pcall and reads a string key as
// completed. Entries written before data moved into the stream (no d field) take the reading path.
import { luaScript } from '../context/internal.js';

const FINAL = `
local function final(s) return s == false or s == 'completed' or s == 'dead' or s == 'cancelled' end
-- cancelled settles a job as cancelled: its id kept for retainMs, its data and cancel flag gone.
local function cancelled(jk, retain)
  redis.call('HSET', jk, 's', 'cancelled')
  redis.call('HDEL', jk, 'd', 'c')
  redis.call('PEXPIRE', jk, retain)
end
local function state(jk)
  local s = redis.pcall('HGET', jk, 's')
  if type(s) == 'table' then return 'completed' end
  return s
end
`;

// ENTRY adds a job's stream entry and points its hash at it.
const ENTRY = `
local function entry(stream, jk, id, d, a, r, dl)
  local eid = redis.call('XADD', stream, '*', 'i', id, 'd', d, 'a', a, 'r', r, 'dl', dl)
  redis.call('HSET', jk, 's', 'queued', 'a', a, 'r', r, 'dl', dl, 'e', eid)
  return eid
end
`;

// START marks a delivered entry as an attempt of its job and appends the job to out. begin does it
// for an entry just read for the first time, which carries the job (f: its fields): one HSET.
// start is the reading path for the others (reclaimed from a stopped consumer, read by a blocking
// read outside the script, or written by an older version): it reads the job's hash first, and
// acknowledges and deletes the entry instead when the job was cancelled or finished meanwhile,
// or when its cancel was asked for while a consumer that then stopped ran it (the job is
// settled cancelled, kept retainMs, and not started again).
const START = `
${FINAL}
local function start(stream, group, consumer, prefix, retain, eid, id, data, out)
  local jk = prefix .. id
  local f = redis.pcall('HMGET', jk, 's', 'a', 'd', 'r', 'dl', 'c')
  if f.err or final(f[1]) or f[6] == '1' then
    redis.call('XACK', stream, group, eid)
    redis.call('XDEL', stream, eid)
    if not f.err and f[6] == '1' and not final(f[1]) then cancelled(jk, retain) end
    return
  end
  local reclaimed = '0'
  if f[1] == 'active' then reclaimed = '1' end
  local a = (tonumber(f[2]) or 0) + 1
  redis.call('HSET', jk, 's', 'active', 'o', consumer, 'e', eid, 'a', a)
  out[#out + 1] = { eid, id, data or f[3], tostring(a), f[4], f[5] or '', reclaimed }
end
local function begin(stream, group, consumer, prefix, retain, eid, f, out)
  if f[3] ~= 'd' then return start(stream, group, consumer, prefix, retain, eid, f[2], nil, out) end
  local a = tonumber(f[6]) + 1
  redis.call('HSET', prefix .. f[2], 's', 'active', 'o', consumer, 'e', eid, 'a', a)
  out[#out + 1] = { eid, f[2], f[4], tostring(a), f[8], f[10], '0' }
end
local function dataOf(f)
  if f and f[3] == 'd' then return f[4] end
  return nil
end
`;

/**
 * FETCH: KEYS stream, delayed. ARGV group, consumer, count, now, prefix, claimIdleMs (0: no
 * reclaim), claimCursor, retainMs. Promotes due delayed jobs, reclaims entries idle longer than claimIdleMs
 * (a consumer that stopped answering), then reads new entries; returns { jobs, nextCursor, nextDueMs }.
 */
export const FETCH = luaScript(`
${START}
${ENTRY}
local stream, delayed = KEYS[1], KEYS[2]
local group, consumer, count, now, prefix = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local retain = ARGV[8]
local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(due) do
  redis.call('ZREM', delayed, id)
  local jk = prefix .. id
  if state(jk) == 'delayed' then
    local j = redis.call('HMGET', jk, 'd', 'a', 'dl')
    entry(stream, jk, id, j[1] or 'null', j[2] or '0', now, j[3] or '')
    redis.call('HDEL', jk, 'd')
  end
end
local out = {}
local cursor = ARGV[7]
if tonumber(ARGV[6]) > 0 then
  local c = redis.call('XAUTOCLAIM', stream, group, consumer, ARGV[6], cursor, 'COUNT', count)
  cursor = c[1]
  for _, e in ipairs(c[2]) do
    if e and e[2] then start(stream, group, consumer, prefix, retain, e[1], e[2][2], dataOf(e[2]), out)
    elseif e then redis.call('XACK', stream, group, e[1]) end
  end
end
local left = count - #out
if left > 0 then
  local res = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', left, 'STREAMS', stream, '>')
  if res then
    for _, e in ipairs(res[1][2]) do begin(stream, group, consumer, prefix, retain, e[1], e[2], out) end
  end
end
local nextDue = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
local nd = ''
if nextDue[2] then nd = nextDue[2] end
return { out, cursor, nd }
`);

/**
 * START_ENTRIES: KEYS stream. ARGV group, consumer, prefix, retainMs, then (eid, id, data) per entry
 * read by a blocking XREADGROUP; data '' when the entry carries none (no JSON text is empty).
 */
export const START_ENTRIES = luaScript(`
${START}
local out = {}
for i = 5, #ARGV, 3 do
  local data = ARGV[i + 2]
  if data == '' then data = nil end
  start(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[i], ARGV[i + 1], data, out)
end
return out
`);

/**
 * ADOPT: KEYS stream. ARGV group, consumer, prefix, retainMs, count, then the entry ids this
 * consumer holds (running, fetched ahead, or being settled). Returns { jobs, pendingSeen }: the
 * entries pending to this consumer that it does not hold, which a call whose reply was lost (a
 * network cut) left there. A job that lost call started (active, owned here, on this entry) is
 * handed over as it is, its attempt already counted; any other goes through the reading path
 * (an entry a lost blocking read delivered but nothing started, or a job cancelled meanwhile).
 * Without this they would wait visibilityMs for a reclaim.
 */
export const ADOPT = luaScript(`
${START}
local stream = KEYS[1]
local group, consumer, prefix, retain = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local held = {}
for i = 6, #ARGV do held[ARGV[i]] = true end
local out = {}
local p = redis.call('XPENDING', stream, group, '-', '+', tonumber(ARGV[5]), consumer)
for _, e in ipairs(p) do
  local eid = e[1]
  if not held[eid] then
    local r = redis.call('XRANGE', stream, eid, eid)
    local f = r[1] and r[1][2]
    if not f then
      redis.call('XACK', stream, group, eid)
    else
      local id = f[2]
      local h = redis.pcall('HMGET', prefix .. id, 's', 'o', 'e', 'a', 'r', 'dl', 'c', 'd')
      if not h.err and h[1] == 'active' and h[2] == consumer and h[3] == eid and h[7] ~= '1' then
        out[#out + 1] = { eid, id, dataOf(f) or h[8], h[4] or '1', h[5] or '0', h[6] or '', '0' }
      else
        start(stream, group, consumer, prefix, retain, eid, id, dataOf(f), out)
      end
    end
  end
end
return { out, #p }
`);

/** ENQUEUE: KEYS job, stream, delayed. ARGV id, data, deadline, runAt ('' for now), now, capacity (0: none). 1 added, 0 known id, -1 full. */
export const ENQUEUE = luaScript(`
${ENTRY}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local cap = tonumber(ARGV[6])
if cap > 0 and redis.call('XLEN', KEYS[2]) + redis.call('ZCARD', KEYS[3]) >= cap then return -1 end
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'd', ARGV[2], 'a', 0, 'dl', ARGV[3], 'r', ARGV[4], 's', 'delayed')
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
else
  entry(KEYS[2], KEYS[1], ARGV[1], ARGV[2], 0, ARGV[5], ARGV[3])
end
return 1
`);

/** SETTLE: KEYS stream, delayed, dead. ARGV group, consumer, prefix, retainMs, now, then groups of (op, eid, id, arg). */
export const SETTLE = luaScript(`
${FINAL}
${ENTRY}
-- The job's data: from its entry, or from its hash (an entry written by an older version).
local function data(stream, eid, jk)
  local r = redis.call('XRANGE', stream, eid, eid)
  local f = r[1] and r[1][2]
  if f and f[3] == 'd' then return f[4] end
  return redis.call('HGET', jk, 'd') or 'null'
end
local stream, delayed, dead = KEYS[1], KEYS[2], KEYS[3]
local group, consumer, prefix, retain, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local done = {}
for i = 6, #ARGV, 4 do
  local op, eid, id, arg = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local jk = prefix .. id
  if op == 'complete' then
    -- The work was done: record it even when another consumer took the job over meanwhile, but
    -- never bring back a job key that expired (XX).
    done[#done + 1] = eid
    redis.call('SET', jk, 'completed', 'PX', retain, 'XX')
  else
    local f = redis.pcall('HMGET', jk, 's', 'o', 'e', 'c')
    local mine = not f.err and f[1] == 'active' and f[2] == consumer and f[3] == eid
    -- A job whose cancel was asked for is not run again, even when the worker never heard of it
    -- (the notice and the renewal that carries it missed): a retry or hand-back ends it.
    if mine and f[4] == '1' and (op == 'retry' or op == 'handback') then op = 'cancelled' end
    if mine then
      local d
      if op ~= 'cancelled' then d = data(stream, eid, jk) end
      redis.call('XACK', stream, group, eid)
      redis.call('XDEL', stream, eid)
      if op == 'cancelled' then
        cancelled(jk, retain)
      elseif op == 'retry' then
        redis.call('HSET', jk, 's', 'delayed', 'r', arg, 'd', d)
        redis.call('ZADD', delayed, arg, id)
      elseif op == 'dead' then
        local a = redis.call('HGET', jk, 'a')
        redis.call('XADD', dead, '*', 'i', id, 'd', d, 'a', a or '0', 'e', arg, 't', now)
        redis.call('HSET', jk, 's', 'dead')
        redis.call('HDEL', jk, 'd')
        redis.call('PEXPIRE', jk, retain)
      elseif op == 'handback' then
        local a = redis.call('HINCRBY', jk, 'a', -1)
        local dl = redis.call('HGET', jk, 'dl') or ''
        redis.call('HDEL', jk, 'c', 'd')
        entry(stream, jk, id, d, a, now, dl)
      end
    end
  end
end
if #done == 0 then return 1 end
-- Completed entries leave the stream together. Acknowledged in chunks (unpack's limit):
local acked = 0
for i = 1, #done, 500 do
  acked = acked + redis.call('XACK', stream, group, unpack(done, i, math.min(i + 499, #done)))
end
-- Every entry older than the oldest still pending and no newer than the newest completed has
-- been delivered and acknowledged: one XTRIM MINID drops them all, for much less than an XDEL of
-- each (which searches its node). That holds only when every completed entry was pending in this
-- group (so the group read past them); otherwise (another consumer settled one first) nothing is
-- trimmed. The completed entries the trim does not reach, newer than a job still running, are
-- deleted one by one, so the stream keeps only jobs waiting or running.
local ms, seq = {}, {}
for i, eid in ipairs(done) do
  local m, q = string.match(eid, '^(%d+)-(%d+)$')
  ms[i], seq[i] = tonumber(m), tonumber(q)
end
local keepMs, keepSeq = 0, 1
if acked == #done then
  keepMs, keepSeq = ms[1], seq[1]
  for i = 2, #done do
    if ms[i] > keepMs or (ms[i] == keepMs and seq[i] > keepSeq) then keepMs, keepSeq = ms[i], seq[i] end
  end
  keepSeq = keepSeq + 1
  local p = redis.call('XPENDING', stream, group)
  if p[1] > 0 and p[2] then
    local m, q = string.match(p[2], '^(%d+)-(%d+)$')
    m, q = tonumber(m), tonumber(q)
    if m < keepMs or (m == keepMs and q < keepSeq) then keepMs, keepSeq = m, q end
  end
  redis.call('XTRIM', stream, 'MINID', string.format('%d-%d', keepMs, keepSeq))
end
local rest = {}
for i, eid in ipairs(done) do
  if ms[i] > keepMs or (ms[i] == keepMs and seq[i] >= keepSeq) then rest[#rest + 1] = eid end
end
for i = 1, #rest, 500 do
  redis.call('XDEL', stream, unpack(rest, i, math.min(i + 499, #rest)))
end
return 1
`);

/** HEARTBEAT: KEYS stream. ARGV group, consumer, prefix, eid1, id1, ... Keeps this consumer's entries from being reclaimed; returns ids whose cancel was requested. */
export const HEARTBEAT = luaScript(`
local out = {}
for i = 4, #ARGV, 2 do
  local eid, id = ARGV[i], ARGV[i + 1]
  local f = redis.pcall('HMGET', ARGV[3] .. id, 's', 'o', 'e', 'c')
  if not f.err and f[1] == 'active' and f[2] == ARGV[2] and f[3] == eid then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, eid, 'JUSTID')
    if f[4] == '1' then out[#out + 1] = id end
  end
end
return out
`);

/** CANCEL: KEYS job, delayed, stream. ARGV id, channel, message, retainMs. 0 unknown or finished, 1 was waiting, 2 running (told by PUBLISH). */
export const CANCEL = luaScript(`
${FINAL}
local s = state(KEYS[1])
if final(s) then return 0 end
if s == 'active' then
  redis.call('HSET', KEYS[1], 'c', '1')
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 2
end
-- A queued job's entry goes, so that no worker reads it (a new entry is started without a read).
if s == 'queued' then
  local e = redis.call('HGET', KEYS[1], 'e')
  if e then redis.call('XDEL', KEYS[3], e) end
end
cancelled(KEYS[1], ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`);

/** DEPTH: KEYS stream, delayed. ARGV group. Jobs waiting to start: stream entries not delivered plus delayed. */
export const DEPTH = luaScript(`
local len = redis.call('XLEN', KEYS[1])
local ok, p = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1])
local pending = 0
if ok and p then pending = tonumber(p[1]) end
return len - pending + redis.call('ZCARD', KEYS[2])
`);
