import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { isNoScriptError } from './errors.js';

/**
 * The Lua scripts of the store. Each runs atomically on the server, so what it checks and what it
 * writes can never interleave with another client's call, however many processes share the Redis.
 *
 * Every script takes the key base (`{keyPrefix}asm:`) as `ARGV[1]` and builds its key names from it
 * (see `keys.ts`). Scripts that can fail validate everything before their first write: Redis does not
 * roll a script back, so "check, then write" is what makes a batch all or nothing.
 *
 * Keys are built inside the scripts rather than declared in `KEYS`, because cascades (deleting a
 * session, expiring it) reach keys only known from data. That is fine on a standalone Redis or behind
 * Sentinel; Redis Cluster is not supported.
 */

/** A script with its source and SHA1 (what `EVALSHA` takes). */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

function script(name: string, body: string): LuaScript {
  const source = `${PRELUDE}\n${body}`;
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * Runs a script by its SHA1 and, when the server does not know it (`NOSCRIPT`: after `SCRIPT FLUSH`
 * or a restart), sends the source with `EVAL`, which also loads it for the next calls. A script that
 * was rejected with `NOSCRIPT` did not run, so sending it again is safe.
 */
export async function runScript(
  client: Redis,
  lua: LuaScript,
  args: ReadonlyArray<string | number>,
): Promise<unknown> {
  try {
    return await client.evalsha(lua.sha, 0, ...args);
  } catch (error) {
    if (!isNoScriptError(error)) throw error;
    return await client.eval(lua.source, 0, ...args);
  }
}

/**
 * Helpers every script starts with. `ARGV[1]` is the key base; `ARGV[2]`, where a script writes, the
 * retention TTL in milliseconds (0: no retention).
 */
const PRELUDE = `
local K = ARGV[1]
local TERMINAL = { completed = true, failed = true, cancelled = true }

local function fail(reason, values)
  return redis.error_reply('ASM ' .. reason .. ' ' .. cjson.encode(values))
end

-- Every key holding data of a session (not its index entries).
local function sessionKeys(sid)
  local keys = { K .. 'session:' .. sid, K .. 'runs:' .. sid, K .. 'events:' .. sid, K .. 'event-ids:' .. sid }
  for _, rid in ipairs(redis.call('ZRANGE', K .. 'runs:' .. sid, 0, -1)) do
    keys[#keys + 1] = K .. 'run:' .. rid
  end
  for _, eid in ipairs(redis.call('HKEYS', K .. 'event-ids:' .. sid)) do
    keys[#keys + 1] = K .. 'event:' .. eid
  end
  return keys
end

-- Gives every key of a session the TTL ms (or removes the TTL when ms is nil).
local function setSessionExpiry(sid, ms)
  for _, key in ipairs(sessionKeys(sid)) do
    if ms then redis.call('PEXPIRE', key, ms) else redis.call('PERSIST', key) end
  end
end

-- After a write to a session: a finished session gets its retention TTL back (refreshed on
-- activity). To keep frequent writes O(1), a TTL refreshed less than a tenth of it ago is kept and
-- only the keys this write created get the same deadline.
local function retain(sid, ttl, created)
  if ttl <= 0 then return end
  local sessionKey = K .. 'session:' .. sid
  local status = redis.call('HGET', sessionKey, 'status')
  if not status or not TERMINAL[status] then return end
  local left = redis.call('PTTL', sessionKey)
  if left < 0 or left < ttl * 0.9 then
    setSessionExpiry(sid, ttl)
  else
    for _, key in ipairs(created) do redis.call('PEXPIRE', key, left) end
  end
end
`;

/**
 * Upserts a session and moves it between indexes.
 * ARGV: base, ttlMs, sessionId, json, status, agentId, tagsJson, score, tagCount, tags…
 */
export const SAVE_SESSION = script(
  'saveSession',
  `
local ttl = tonumber(ARGV[2])
local sid, json, status, agent, tagsJson, score = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local tagCount = tonumber(ARGV[9])
local key = K .. 'session:' .. sid
local old = redis.call('HMGET', key, 'status', 'agent', 'tags')
if old[1] then
  redis.call('ZREM', K .. 'index:status:' .. old[1], sid)
  redis.call('ZREM', K .. 'index:agent:' .. old[2], sid)
  for _, tag in ipairs(cjson.decode(old[3])) do redis.call('ZREM', K .. 'index:tag:' .. tag, sid) end
end
redis.call('HSET', key, 'json', json, 'status', status, 'agent', agent, 'tags', tagsJson, 'score', score)
redis.call('ZADD', K .. 'index:all', score, sid)
redis.call('ZADD', K .. 'index:status:' .. status, score, sid)
redis.call('ZADD', K .. 'index:agent:' .. agent, score, sid)
for i = 1, tagCount do redis.call('ZADD', K .. 'index:tag:' .. ARGV[9 + i], score, sid) end
if ttl > 0 then
  if TERMINAL[status] then
    retain(sid, ttl, {})
  elseif redis.call('PTTL', key) >= 0 then
    setSessionExpiry(sid, nil)
  end
end
return 1
`,
);

/**
 * Deletes a session with its runs, events, event ids and index entries.
 * ARGV: base, sessionId
 */
export const DELETE_SESSION = script(
  'deleteSession',
  `
local sid = ARGV[2]
local key = K .. 'session:' .. sid
local old = redis.call('HMGET', key, 'status', 'agent', 'tags')
redis.call('ZREM', K .. 'index:all', sid)
if old[1] then
  redis.call('ZREM', K .. 'index:status:' .. old[1], sid)
  redis.call('ZREM', K .. 'index:agent:' .. old[2], sid)
  for _, tag in ipairs(cjson.decode(old[3])) do redis.call('ZREM', K .. 'index:tag:' .. tag, sid) end
end
for _, k in ipairs(sessionKeys(sid)) do redis.call('UNLINK', k) end
return 1
`,
);

/**
 * Upserts a run; its session must exist.
 * ARGV: base, ttlMs, runId, sessionId, json, status, score
 */
export const SAVE_RUN = script(
  'saveRun',
  `
local ttl = tonumber(ARGV[2])
local rid, sid, json, status, score = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local sessionKey = K .. 'session:' .. sid
if redis.call('EXISTS', sessionKey) == 0 then return fail('session_not_found', { sid }) end
local runKey = K .. 'run:' .. rid
local runsKey = K .. 'runs:' .. sid
local previous = redis.call('HGET', runKey, 'session')
if previous and previous ~= sid then redis.call('ZREM', K .. 'runs:' .. previous, rid) end
redis.call('HSET', runKey, 'json', json, 'session', sid, 'status', status)
redis.call('ZADD', runsKey, score, rid)
if ttl > 0 and redis.call('PTTL', sessionKey) < 0 then redis.call('PERSIST', runKey) end
retain(sid, ttl, { runKey, runsKey })
return 1
`,
);

/**
 * Runs of a session in createdAt-then-id order, filtered by status, at most \`limit\` (0: all).
 * ARGV: base, sessionId, limit, statusCount, statuses…
 * Returns the run JSONs.
 */
export const LIST_RUNS = script(
  'listRuns',
  `
local sid, limit, statusCount = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local statuses = nil
if statusCount > 0 then
  statuses = {}
  for i = 1, statusCount do statuses[ARGV[4 + i]] = true end
end
local runsKey = K .. 'runs:' .. sid
local out = {}
for _, rid in ipairs(redis.call('ZRANGE', runsKey, 0, -1)) do
  local f = redis.call('HMGET', K .. 'run:' .. rid, 'status', 'json')
  if not f[1] then
    redis.call('ZREM', runsKey, rid)
  elseif statuses == nil or statuses[f[1]] then
    out[#out + 1] = f[2]
    if limit > 0 and #out >= limit then break end
  end
end
return out
`,
);

/**
 * One page of a session index, filtered by status and agent. Index entries whose session has expired
 * (retention) are removed as they are met.
 * ARGV: base, indexKey, startRank, count, agentId ('' = any), statusCount, statuses…
 * Returns { scanned, removed, json… }.
 */
export const LIST_SESSIONS = script(
  'listSessions',
  `
local index, start, count, agent, statusCount = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local statuses = nil
if statusCount > 0 then
  statuses = {}
  for i = 1, statusCount do statuses[ARGV[6 + i]] = true end
end
local ids = redis.call('ZRANGE', index, start, start + count - 1)
local out = { #ids, 0 }
local removed = 0
for _, sid in ipairs(ids) do
  local f = redis.call('HMGET', K .. 'session:' .. sid, 'status', 'agent', 'json')
  if not f[1] then
    redis.call('ZREM', index, sid)
    removed = removed + 1
  elseif (agent == '' or f[2] == agent) and (statuses == nil or statuses[f[1]]) then
    out[#out + 1] = f[3]
  end
end
out[2] = removed
return out
`,
);

/**
 * Appends a batch of events: checks that every session exists and that no id belongs to another
 * session, then, per event in input order, either finds the stored event with that id or assigns
 * the session's next sequence and writes it. Publishes the new latest sequence of each session that
 * grew on its long-poll channel.
 * ARGV: base, ttlMs, count, then per event: sessionId, eventId, runId ('' = none), type, timestamp
 * ms, json.
 * Returns { sequence, storedJson, … } per event; storedJson is '' unless the id was already stored
 * before this call (then it is what is stored, which may differ from the input).
 */
export const APPEND_EVENTS = script(
  'appendEvents',
  `
local ttl = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
-- Phase 1, no writes: every session exists, no id belongs to another session.
local checked = {}
local owners = {}
for first = 0, count - 1, 1000 do
  local last = math.min(first + 999, count - 1)
  local eventKeys = {}
  for i = first, last do
    local o = 3 + i * 6
    local sid = ARGV[o + 1]
    if not checked[sid] then
      if redis.call('EXISTS', K .. 'session:' .. sid) == 0 then return fail('session_not_found', { sid }) end
      checked[sid] = true
    end
    eventKeys[#eventKeys + 1] = K .. 'event:' .. ARGV[o + 2]
  end
  local found = redis.call('MGET', unpack(eventKeys))
  for i = first, last do
    local owner = found[i - first + 1]
    if owner then
      local o = 3 + i * 6
      local sid, eid = ARGV[o + 1], ARGV[o + 2]
      if owner ~= sid then return fail('event_in_other_session', { eid, owner }) end
      owners[eid] = true
    end
  end
end
-- Phase 2: per event in input order, the stored one or a new one with the next sequence.
local latest = {}
local idPairs = {}
local ownerPairs = {}
local created = {}
local seen = {}
local out = {}
for i = 0, count - 1 do
  local o = 3 + i * 6
  local sid, eid = ARGV[o + 1], ARGV[o + 2]
  local seq = seen[eid]
  local stored = ''
  if seq == nil then
    if owners[eid] then
      seq = tonumber(redis.call('HGET', K .. 'event-ids:' .. sid, eid))
      local entry = redis.call('XRANGE', K .. 'events:' .. sid, seq, seq)[1]
      if entry then stored = entry[2][8] end
    else
      local last = latest[sid]
      if last == nil then
        last = redis.call('HLEN', K .. 'event-ids:' .. sid)
        idPairs[sid] = {}
        created[sid] = { K .. 'events:' .. sid, K .. 'event-ids:' .. sid }
      end
      seq = last + 1
      latest[sid] = seq
      redis.call('XADD', K .. 'events:' .. sid, seq .. '-0', 'r', ARGV[o + 3], 't', ARGV[o + 4], 'ms', ARGV[o + 5], 'e', ARGV[o + 6])
      local fields = idPairs[sid]
      fields[#fields + 1] = eid
      fields[#fields + 1] = seq
      local eventKey = K .. 'event:' .. eid
      ownerPairs[#ownerPairs + 1] = eventKey
      ownerPairs[#ownerPairs + 1] = sid
      local list = created[sid]
      list[#list + 1] = eventKey
    end
    seen[eid] = seq
  end
  out[#out + 1] = seq
  out[#out + 1] = stored
end
-- The id indexes, written in chunks (a Lua call takes a bounded number of arguments).
local function inChunks(list, command, key)
  for first = 1, #list, 2000 do
    local last = math.min(first + 1999, #list)
    if key then
      redis.call(command, key, unpack(list, first, last))
    else
      redis.call(command, unpack(list, first, last))
    end
  end
end
inChunks(ownerPairs, 'MSET', nil)
for sid, seq in pairs(latest) do
  inChunks(idPairs[sid], 'HSET', K .. 'event-ids:' .. sid)
  redis.call('PUBLISH', K .. 'notify:' .. sid, seq)
  retain(sid, ttl, created[sid])
end
return out
`,
);

/**
 * Scans a session's log from a sequence and returns the entries matching the run, type and since
 * filters, at most \`limit\` (0: no limit), reading at most \`budget\` entries per call so a narrow
 * filter over a long log never blocks the server for long.
 * ARGV: base, sessionId, fromSequence, toSequence ('+' = end), limit, budget, runId ('' = any),
 * sinceMs ('' = any), typeCount, types…
 * Returns { nextSequence (0 when the scan is complete), sequence, json, sequence, json… }.
 */
export const SCAN_EVENTS = script(
  'scanEvents',
  `
local key = K .. 'events:' .. ARGV[2]
local cursor, last = tonumber(ARGV[3]), ARGV[4]
local limit, budget = tonumber(ARGV[5]), tonumber(ARGV[6])
local run = ARGV[7]
local since = tonumber(ARGV[8])
local typeCount = tonumber(ARGV[9])
local types = nil
if typeCount > 0 then
  types = {}
  for i = 1, typeCount do types[ARGV[9 + i]] = true end
end
local out = { 0 }
local found, scanned = 0, 0
local chunkSize = 256
while true do
  local chunk = redis.call('XRANGE', key, cursor, last, 'COUNT', chunkSize)
  for _, entry in ipairs(chunk) do
    local f = entry[2]
    if (run == '' or f[2] == run) and (types == nil or types[f[4]]) and (since == nil or tonumber(f[6]) >= since) then
      out[#out + 1] = entry[1]
      out[#out + 1] = f[8]
      found = found + 1
      if limit > 0 and found >= limit then return out end
    end
  end
  if #chunk < chunkSize then return out end
  cursor = tonumber(string.match(chunk[#chunk][1], '^(%d+)')) + 1
  scanned = scanned + #chunk
  if scanned >= budget then
    out[1] = cursor
    return out
  end
end
`,
);

/**
 * Maintenance: replaces a session's JSON only if it is still the one maintenance read (a
 * compare-and-set, so a concurrent save is never overwritten).
 * ARGV: base, sessionId, expectedJson, newJson. Returns 1 when replaced, 0 otherwise.
 */
export const REPLACE_SESSION_JSON = script(
  'replaceSessionJson',
  `
local key = K .. 'session:' .. ARGV[2]
if redis.call('HGET', key, 'json') ~= ARGV[3] then return 0 end
redis.call('HSET', key, 'json', ARGV[4])
return 1
`,
);

/**
 * Maintenance: deletes a session like \`DELETE_SESSION\`, but only if its JSON is still the one
 * maintenance read (so a session restored in the meantime survives).
 * ARGV: base, sessionId, expectedJson. Returns 1 when deleted, 0 otherwise.
 */
export const HARD_DELETE_SESSION = script(
  'hardDeleteSession',
  `
local sid = ARGV[2]
local key = K .. 'session:' .. sid
local old = redis.call('HMGET', key, 'status', 'agent', 'tags', 'json')
if old[4] ~= ARGV[3] then return 0 end
redis.call('ZREM', K .. 'index:all', sid)
redis.call('ZREM', K .. 'index:status:' .. old[1], sid)
redis.call('ZREM', K .. 'index:agent:' .. old[2], sid)
for _, tag in ipairs(cjson.decode(old[3])) do redis.call('ZREM', K .. 'index:tag:' .. tag, sid) end
for _, k in ipairs(sessionKeys(sid)) do redis.call('UNLINK', k) end
return 1
`,
);

/**
 * Maintenance: prunes a session's log down to \`max\` entries, atomically: first the oldest entries of
 * the first-to-prune types, then the oldest of the rest, never a protected type. Only stream entries
 * go: the event-id hash keeps every id, so the latest sequence (its length) never goes down and
 * numbers are not reused.
 * ARGV: base, sessionId, max, firstCount, firstTypes…, protectedCount, protectedTypes…
 * Returns the number of entries deleted.
 */
export const PRUNE_EVENTS = script(
  'pruneEvents',
  `
local key = K .. 'events:' .. ARGV[2]
local excess = redis.call('XLEN', key) - tonumber(ARGV[3])
if excess <= 0 then return 0 end
local firstCount = tonumber(ARGV[4])
local first = {}
for i = 1, firstCount do first[ARGV[4 + i]] = true end
local protectedCount = tonumber(ARGV[5 + firstCount])
local protected = {}
for i = 1, protectedCount do protected[ARGV[5 + firstCount + i]] = true end
local chosen = {}
local taken = {}
local function pass(onlyFirst)
  local from = '-'
  while excess > 0 do
    local chunk = redis.call('XRANGE', key, from, '+', 'COUNT', 512)
    for _, entry in ipairs(chunk) do
      local t = entry[2][4]
      if not protected[t] and not taken[entry[1]] and (not onlyFirst or first[t]) then
        chosen[#chosen + 1] = entry[1]
        taken[entry[1]] = true
        excess = excess - 1
        if excess == 0 then return end
      end
    end
    if #chunk < 512 then return end
    from = '(' .. chunk[#chunk][1]
  end
end
pass(true)
pass(false)
for i = 1, #chosen, 1000 do
  redis.call('XDEL', key, unpack(chosen, i, math.min(i + 999, #chosen)))
end
return #chosen
`,
);

/**
 * Maintenance: removes what is left of a session that no longer exists (its event-id hash, log, run
 * keys and event owners), if it still does not exist.
 * ARGV: base, sessionId. Returns 1 when the session's sequence counter was removed, 0 otherwise.
 */
export const CLEAN_ORPHANED_SESSION_DATA = script(
  'cleanOrphanedSessionData',
  `
local sid = ARGV[2]
if redis.call('EXISTS', K .. 'session:' .. sid) == 1 then return 0 end
local hadCounter = redis.call('EXISTS', K .. 'event-ids:' .. sid)
for _, k in ipairs(sessionKeys(sid)) do redis.call('UNLINK', k) end
return hadCounter
`,
);
