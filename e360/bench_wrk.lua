-- wrk script of the benchmarks (`e360.bench.wrk_post`): POST bodies for wrk's duration and
-- count the answers.
--
-- Environment: KEY (the bearer key), BODY (JSON with @ID@ where each record's id goes),
-- BATCH (0: one record per request; N: a JSON array of N records), EXPECT (the status
-- that counts as answered), RETRY (how many requests back a retry goes: at least the
-- connections per thread, so the first answer is in). Every tenth request sends an earlier
-- one again, as a client retrying would. `done` prints one line of JSON with the counts.
--
-- File mode, for requests Lua cannot make (signed ones): FILE names a file of prepared
-- requests, one a line, tab-separated: "Name: value" headers, then the body (one line of
-- JSON). THREADS (wrk's -t) threads take every THREADS-th line each; a thread that has sent
-- all of its lines starts again from its first (those count as retries absorbed).
-- ABSORBED is the status of an absorbed retry (GitHub's webhook: 200 "Already received").

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local template = os.getenv("BODY") or "{}"
local batch = tonumber(os.getenv("BATCH") or "0")
local expect = tonumber(os.getenv("EXPECT") or "200")
local retry = tonumber(os.getenv("RETRY") or "1")
local absorbed = tonumber(os.getenv("ABSORBED") or "0")
local file = os.getenv("FILE")
local threads_total = tonumber(os.getenv("THREADS") or "1")
local headers = {["Authorization"] = "Bearer " .. (os.getenv("KEY") or ""), ["Content-Type"] = "application/json"}
local prepared = {}

local function load_prepared()
  local index = 0
  for line in io.lines(file) do
    if index % threads_total == tid - 1 then
      local fields = {}
      for part in string.gmatch(line, "[^\t]+") do
        fields[#fields + 1] = part
      end
      local these = {["Content-Type"] = "application/json"}
      for i = 1, #fields - 1 do
        local name, value = string.match(fields[i], "^([^:]+): (.*)$")
        these[name] = value
      end
      prepared[#prepared + 1] = {headers = these, body = fields[#fields]}
    end
    index = index + 1
  end
end

function init(args)
  sent, answered, accepted, created, duplicates, other, first = 0, 0, 0, 0, 0, 0, ""
  if file then
    load_prepared()
  end
end

local function record(id)
  return (string.gsub(template, "@ID@", id))
end

local function body(n)
  local id = tid .. "-" .. n
  if batch == 0 then
    return record(id)
  end
  local parts = {}
  for i = 1, batch do
    parts[i] = record(id .. "-" .. i)
  end
  return "[" .. table.concat(parts, ",") .. "]"
end

function request()
  sent = sent + 1
  local n = sent
  if n % 10 == 0 and n > retry then
    n = n - retry
  end
  if file then
    local chosen = prepared[(n - 1) % #prepared + 1]
    return wrk.format("POST", nil, chosen.headers, chosen.body)
  end
  return wrk.format("POST", nil, headers, body(n))
end

function response(status, _, text)
  if status == absorbed and absorbed ~= expect then
    answered = answered + 1
    duplicates = duplicates + 1
    return
  end
  if status ~= expect then
    other = other + 1
    if first == "" then
      first = status .. " " .. string.gsub(string.sub(text, 1, 200), '[^%w ,.:;_/()-]', " ")
    end
    return
  end
  answered = answered + 1
  local made = string.match(text, '"created": (%d+)')
  if made then
    created = created + tonumber(made)
  elseif string.find(text, '"duplicate": true', 1, true) then
    duplicates = duplicates + 1
  else
    accepted = accepted + 1
  end
end

function done(summary)
  local totals = {answered = 0, accepted = 0, created = 0, duplicates = 0, other = 0}
  local first = ""
  for _, thread in ipairs(threads) do
    for name, value in pairs(totals) do
      totals[name] = value + thread:get(name)
    end
    if first == "" then
      first = thread:get("first")
    end
  end
  io.write(string.format(
    '{"answered": %d, "accepted": %d, "created": %d, "duplicates": %d, "other": %d, "seconds": %.3f, "first": "%s"}\n',
    totals.answered, totals.accepted, totals.created, totals.duplicates, totals.other, summary.duration / 1e6, first
  ))
end
