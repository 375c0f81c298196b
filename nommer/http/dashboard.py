"""The dashboard at ``/``: one self-contained page (no external assets) that
reads ``/jobs`` and ``/fleet`` every 2 seconds.

The page itself holds no data and is served without a token; when the API
answers 401 it asks for one, keeps it in sessionStorage (gone when the tab
closes) and sends it as a bearer token with every call.
"""

import base64
import hashlib

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nommer</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
  h1 { font-size: 1.3em; margin: 0 0 .5em; }
  #fleet, #status { color: #555; margin-bottom: 1em; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid #ddd; vertical-align: top; }
  td.id { font-family: monospace; }
  td.details { white-space: pre-wrap; font-family: monospace; font-size: 12px; max-width: 50em; }
  .bar { background: #eee; width: 8em; height: .8em; display: inline-block; }
  .bar span { background: #4a8; height: 100%; display: block; }
  .FINISHED { color: #282; } .ERROR, .ABANDONED { color: #b22; } .CANCELED { color: #777; }
  .stale { color: #b22; }
  #login { margin-bottom: 1em; }
</style>
</head>
<body>
<h1>nommer</h1>
<form id="login" hidden>
  <label>API token <input id="token" type="password" autocomplete="off" size="40"></label>
  <button type="submit">Use</button>
</form>
<div id="fleet">loading fleet...</div>
<div id="status"></div>
<table>
  <thead><tr><th>id</th><th>state</th><th>progress</th><th>created</th><th>details</th></tr></thead>
  <tbody id="jobs"></tbody>
</table>
<script>
"use strict";
function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);  // textContent: job text is never HTML
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}
function progress(row, value) {
  const td = cell(row, "");
  const bar = document.createElement("span");
  bar.className = "bar";
  const fill = document.createElement("span");
  fill.style.width = Math.max(0, Math.min(100, value || 0)) + "%";
  bar.appendChild(fill);
  td.appendChild(bar);
  td.appendChild(document.createTextNode(" " + (value || 0) + "%"));
}
function showJobs(jobs) {
  const body = document.getElementById("jobs");
  body.replaceChildren();
  for (const job of jobs) {
    const row = document.createElement("tr");
    cell(row, job.id, "id");
    cell(row, job.state, job.state);
    progress(row, job.progress);
    cell(row, job.created_at);
    cell(row, job.details, "details");
    body.appendChild(row);
  }
  if (!jobs.length) cell(body.appendChild(document.createElement("tr")), "no jobs yet");
}
function showFleet(fleet) {
  const encoders = fleet.encoders;
  document.getElementById("fleet").textContent = Array.isArray(encoders)
    ? encoders.length + " encoder(s): " + encoders.map(e => (e.id || "?") + " " + (e.state || "")).join(", ")
    : JSON.stringify(fleet);
}
const TOKEN_KEY = "nommer-token";
function askForToken() {
  document.getElementById("login").hidden = false;
  document.getElementById("token").focus();
}
document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  const field = document.getElementById("token");
  sessionStorage.setItem(TOKEN_KEY, field.value.trim());
  field.value = "";
  document.getElementById("login").hidden = true;
  refresh();
});
async function getJson(url) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = token ? {"Authorization": "Bearer " + token} : {};
  const answer = await fetch(url, {cache: "no-store", headers: headers});
  if (answer.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    askForToken();
  }
  const data = await answer.json();
  if (!answer.ok) throw new Error(data.error ? data.error.message : answer.status);
  return data;
}
async function refresh() {
  const status = document.getElementById("status");
  try {
    const [jobs, fleet] = await Promise.all([getJson("jobs?limit=50"), getJson("fleet")]);
    showJobs(jobs.jobs);
    showFleet(fleet);
    status.textContent = "updated " + new Date().toLocaleTimeString();
    status.className = "";
  } catch (e) {
    status.textContent = "cannot reach the feeder: " + e.message;
    status.className = "stale";
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
"""


def _script_hash(page):
    script = page.split("<script>", 1)[1].split("</script>", 1)[0]
    return base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()


# Only this page's own script runs, it talks only to this origin, and no
# other site may frame it.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; script-src 'sha256-{_script_hash(PAGE)}'; style-src 'unsafe-inline'; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
