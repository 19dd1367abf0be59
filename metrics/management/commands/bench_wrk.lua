-- wrk script of `manage.py bench`: POST bodies made from the BODY template for wrk's
-- duration and count the answers.
--
-- Environment: KEY (the bearer key), BODY (JSON with @ID@ where each record's id goes),
-- BATCH (0: one record per request; N: a JSON array of N records), EXPECT (the status
-- that counts as answered), RETRY (how many requests back a retry goes: at least the
-- connections per thread, so the first answer is in). Every tenth request sends an earlier
-- one again, as a client retrying would. `done` prints one line of JSON with the counts.

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  sent, answered, accepted, created, duplicates, other, first = 0, 0, 0, 0, 0, 0, ""
end

local template = os.getenv("BODY") or "{}"
local batch = tonumber(os.getenv("BATCH") or "0")
local expect = tonumber(os.getenv("EXPECT") or "200")
local retry = tonumber(os.getenv("RETRY") or "1")
local headers = {["Authorization"] = "Bearer " .. (os.getenv("KEY") or ""), ["Content-Type"] = "application/json"}

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
  return wrk.format("POST", nil, headers, body(n))
end

function response(status, _, text)
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
