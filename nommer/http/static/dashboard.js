// nommer's dashboard: jobs, one job, the fleet. Plain script, no library.
// Everything a job or an encoder says goes into the page as text
// (textContent), never as HTML.
"use strict";

const TOKEN_KEY = "nommer-token";
const POLL_MS = 2000;          // while the page is shown
const MAX_BACKOFF_MS = 10000;  // while the feeder does not answer
const CALL_TIMEOUT_MS = 10000;
const PAGE_SIZE = 25;  // jobs a page; #/jobs?limit=N asks for another number
const ACTIVE = ["PENDING", "DOWNLOADING", "ENCODING", "UPLOADING"];
const RUNNING = ["DOWNLOADING", "ENCODING", "UPLOADING"];
const FILTERS = [
  ["all", "All", null],
  ["active", "Active", ACTIVE.join(",")],
  ["FINISHED", "Finished", "FINISHED"],
  ["ERROR", "Error", "ERROR"],
  ["CANCELED", "Canceled", "CANCELED"],
  ["ABANDONED", "Abandoned", "ABANDONED"],
];
const JOB_ID = /^[0-9a-f]{20}$/;

// ---- small DOM helpers -----------------------------------------------------

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    node.appendChild(typeof child === "string" || typeof child === "number"
      ? document.createTextNode(String(child)) : child);
  }
  return node;
}

function $(id) { return document.getElementById(id); }

// Replace the children of `node`, leaving out the parts that are not there.
function fill(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c != null && c !== false));
}

// `code` spans in docs/errors.md's words become <code>, as text.
function withCode(text) {
  return String(text || "").split("`").map((part, i) => i % 2 ? el("code", {text: part}) : part);
}

// ---- times and sizes ---------------------------------------------------------

function parseTime(iso) {
  if (!iso) return null;
  // nommer's times have microseconds; Date wants at most milliseconds.
  const date = new Date(String(iso).replace(/(\.\d{3})\d+/, "$1"));
  return isNaN(date) ? null : date;
}

function localTime(iso) {
  const date = parseTime(iso);
  return date ? date.toLocaleString() : "";
}

function timeCell(iso) {
  return el("time", {datetime: iso, title: iso, text: localTime(iso)});
}

// The feeder's clock, from the Date header of its last answer, so that
// ages are right even when this computer's clock is not.
let clockSkew = 0;
function now() { return Date.now() + clockSkew; }

function span(seconds) {
  if (seconds == null || isNaN(seconds)) return "";
  seconds = Math.max(0, Math.round(seconds));
  if (seconds < 60) return seconds + " s";
  const m = Math.floor(seconds / 60), s = seconds % 60;
  if (m < 60) return m + " min " + s + " s";
  const h = Math.floor(m / 60);
  return h + " h " + (m % 60) + " min";
}

function duration(job) {
  const start = parseTime(job.started_at) || parseTime(job.created_at);
  if (!start) return "";
  const end = parseTime(job.finished_at);
  return span(((end ? end.getTime() : now()) - start.getTime()) / 1000);
}

function bytes(n) {
  if (n == null) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}

// ---- calls to the API ----------------------------------------------------------

class AuthNeeded extends Error {}

async function call(path, method) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = token ? {"Authorization": "Bearer " + token} : {};
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), CALL_TIMEOUT_MS);
  let answer;
  try {
    answer = await fetch(path, {method: method || "GET", cache: "no-store", headers: headers, signal: abort.signal});
  } catch (e) {
    throw new Error(e.name === "AbortError" ? "no answer within " + CALL_TIMEOUT_MS / 1000 + " s" : "the feeder cannot be reached");
  } finally {
    clearTimeout(timer);
  }
  const date = Date.parse(answer.headers.get("Date"));
  if (!isNaN(date)) {
    const skew = date - Date.now();
    clockSkew = Math.abs(skew) > 2000 ? skew : 0;  // the header has whole seconds
  }
  if (answer.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    throw new AuthNeeded(token ? "the token was refused" : "");
  }
  let data = null;
  try { data = await answer.json(); } catch (e) { /* not JSON: an answer from something else */ }
  if (!answer.ok) {
    const error = new Error(data && data.error ? data.error.message : "HTTP " + answer.status);
    error.status = answer.status;
    throw error;
  }
  return data;
}

// ---- the token ------------------------------------------------------------------

function showLogin(message) {
  $("nav").hidden = true;
  $("view").hidden = true;
  $("view").replaceChildren();
  $("status").textContent = "";
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("token").focus();
}

function showApp() {
  $("login").hidden = true;
  $("nav").hidden = false;
  $("view").hidden = false;
  $("forget").hidden = !sessionStorage.getItem(TOKEN_KEY);
}

// ---- polling --------------------------------------------------------------------

// One view at a time; each answer is checked against the view's generation
// so an answer for a page left behind is dropped.
let generation = 0;
let timer = null;
let failures = 0;
let current = null;  // {refresh: async () => {}}

function schedule(delay) {
  clearTimeout(timer);
  timer = setTimeout(poll, delay);
}

async function poll() {
  const mine = generation;
  if (!current) return;
  if (document.hidden) { schedule(POLL_MS); return; }
  try {
    await current.refresh(mine);
    if (mine !== generation) return;
    failures = 0;
    showApp();
    $("status").textContent = "updated " + new Date().toLocaleTimeString();
    $("status").className = "";
    schedule(POLL_MS);
  } catch (e) {
    if (mine !== generation) return;
    if (e instanceof AuthNeeded) {
      showLogin(e.message);
      return;  // polling starts again with the next token
    }
    failures++;
    const wait = Math.min(MAX_BACKOFF_MS, POLL_MS * 2 ** Math.min(failures - 1, 3));
    $("status").textContent = "cannot reach the feeder (" + e.message + "); trying again in " + Math.round(wait / 1000) + " s";
    $("status").className = "stale";
    schedule(wait);
  }
}

document.addEventListener("visibilitychange", () => { if (!document.hidden) schedule(0); });

// ---- routes ------------------------------------------------------------------------

function route() {
  generation++;
  failures = 0;
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean);
  for (const link of document.querySelectorAll("#nav a")) link.classList.remove("here");
  if (parts[0] === "jobs" && parts[1]) {
    current = jobView(parts[1]);
  } else if (parts[0] === "fleet") {
    $("nav-fleet").classList.add("here");
    current = fleetView();
  } else {
    $("nav-jobs").classList.add("here");
    current = jobsView(params);
  }
  schedule(0);
}

function go(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

// ---- state and progress bits ---------------------------------------------------------

function stateBadge(state) {
  return el("span", {class: "state " + state, text: state});
}

function bar(percent, label) {
  const fill = el("span");
  fill.style.width = Math.max(0, Math.min(100, percent || 0)) + "%";
  return el("span", {class: "progress", title: label || ""},
    el("span", {class: "bar"}, fill), " " + (percent || 0) + "%", label ? el("span", {class: "phase", text: label}) : null);
}

function jobProgress(job) {
  const pieces = piecesDone(job.pieces);
  return bar(job.progress, job.phase || (pieces ? pieces.done + "/" + pieces.total + " pieces" : ""));
}

// An accelerated job's pieces: {"DONE": 3, "RUNNING": 2, ...} -> counts, or null.
function piecesDone(pieces) {
  if (!pieces) return null;
  const total = Object.values(pieces).reduce((a, b) => a + b, 0);
  return total ? {done: pieces.DONE || 0, total: total} : null;
}

function piecesSummary(job) {
  const counts = piecesDone(job.pieces);
  if (!counts) return null;
  const parts = ["DONE", "RUNNING", "PENDING", "WAITING"].filter((s) => job.pieces[s])
    .map((s) => job.pieces[s] + " " + s.toLowerCase());
  return el("span", {class: "pieces"}, bar(Math.floor(100 * counts.done / counts.total)),
    el("span", {class: "phase", text: counts.done + " of " + counts.total + " done (" + parts.join(", ") + ")"}));
}

async function act(job, action) {
  const verb = action === "cancel" ? "Cancel" : "Retry";
  if (!window.confirm(verb + " job " + job.id + "?")) return;
  try {
    const answer = await call("jobs/" + job.id + "/" + action, "POST");
    if (action === "retry") go("#/jobs/" + answer.id);
    else schedule(0);
  } catch (e) {
    if (e instanceof AuthNeeded) { showLogin(e.message); return; }
    window.alert(verb + " failed: " + e.message);
    schedule(0);
  }
}

function actions(job) {
  return el("span", {class: "actions"},
    job.links && job.links.cancel ? el("button", {type: "button", class: "cancel", "data-job": job.id,
      text: "Cancel", onclick: () => act(job, "cancel")}) : null,
    job.links && job.links.retry ? el("button", {type: "button", class: "retry", "data-job": job.id,
      text: "Retry", onclick: () => act(job, "retry")}) : null);
}

function shortUri(uri) {
  if (!uri) return "";
  const trimmed = uri.replace(/\/$/, "");
  const name = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  return name ? name + (uri.endsWith("/") ? "/" : "") : uri;
}

function outputsSummary(outputs) {
  return el("span", {class: "outputs"}, (outputs || []).map((o) =>
    el("span", {class: "output " + (o.state || ""), title: (o.destination || "") + " — " + (o.state || ""),
      text: (o.preset || "options") + " "}, el("small", {text: o.state || ""}))));
}

// ---- the jobs list -------------------------------------------------------------------

// Cursors of the pages before this one, so Newer can go back.
let cursorsBack = [];

function jobsView(params) {
  const filter = FILTERS.find((f) => f[0] === params.get("state")) || FILTERS[0];
  const cursor = params.get("cursor");
  const search = (params.get("q") || "").trim().toLowerCase();
  const limit = Math.max(1, Math.min(1000, parseInt(params.get("limit"), 10) || PAGE_SIZE));
  if (!cursor) cursorsBack = [];
  let nextCursor = null;
  let last = null;

  const hashFor = (changes) => {
    const next = new URLSearchParams();
    const values = {state: filter[0], cursor: cursor, q: search, limit: limit === PAGE_SIZE ? null : limit, ...changes};
    for (const [k, v] of Object.entries(values)) if (v && !(k === "state" && v === "all")) next.set(k, v);
    const text = next.toString();
    return "#/jobs" + (text ? "?" + text : "");
  };

  const searchBox = el("input", {id: "search", type: "search", placeholder: "job id or its start", value: search, size: 24, spellcheck: "false"});
  const older = el("button", {type: "button", id: "older", text: "Older →", disabled: true, onclick: () => {
    if (!nextCursor) return;
    cursorsBack.push(cursor || "");
    go(hashFor({cursor: nextCursor}));
  }});
  const newer = el("button", {type: "button", id: "newer", text: "← Newer", disabled: !cursor, onclick: () => {
    const back = cursorsBack.pop();
    go(hashFor({cursor: back || null}));
  }});
  const body = el("tbody", {id: "jobs"});
  const note = el("p", {id: "jobs-note", class: "note"});
  $("view").replaceChildren(
    el("div", {class: "toolbar"},
      el("span", {class: "filters", role: "group", "aria-label": "state"}, FILTERS.map(([key, label]) =>
        el("a", {href: hashFor({state: key, cursor: null}), class: "filter" + (key === filter[0] ? " here" : ""),
          "data-filter": key, text: label}))),
      el("form", {id: "search-form", onsubmit: (event) => {
        event.preventDefault();
        const wanted = searchBox.value.trim().toLowerCase();
        if (JOB_ID.test(wanted)) go("#/jobs/" + wanted);
        else go(hashFor({q: wanted, cursor: null}));
      }}, searchBox, el("button", {type: "submit", text: "Find"})),
      el("span", {class: "pager"}, newer, " ", el("span", {id: "page-number", text: "page " + (cursorsBack.length + 1)}), " ", older)),
    el("table", {class: "jobs"},
      el("thead", {}, el("tr", {}, ["id", "state", "progress", "source", "outputs", "error", "submitted", "duration", ""].map((h) => el("th", {text: h})))),
      body),
    note);

  async function refresh(mine) {
    let url = "jobs?limit=" + limit;
    if (filter[2]) url += "&state=" + encodeURIComponent(filter[2]);
    if (cursor) url += "&cursor=" + encodeURIComponent(cursor);
    const page = await call(url);
    if (mine !== generation) return;
    nextCursor = page.next_cursor;
    older.disabled = !nextCursor;
    // Durations of running jobs change every second; the rest only with the data.
    const text = JSON.stringify(page);
    const jobs = search ? page.jobs.filter((j) => j.id.startsWith(search)) : page.jobs;
    if (text === last) {
      // Nothing changed but the time: the rows (and their buttons) stay.
      for (const job of jobs) {
        const cell = body.querySelector('tr[data-job="' + job.id + '"] .duration');
        if (cell) cell.textContent = duration(job);
      }
      return;
    }
    last = text;
    body.replaceChildren(...jobs.map((job) => el("tr", {"data-job": job.id, class: "job"},
      el("td", {class: "id"}, el("a", {href: "#/jobs/" + job.id, text: job.id})),
      el("td", {}, stateBadge(job.state)),
      el("td", {}, jobProgress(job)),
      el("td", {class: "uri", title: job.source, text: shortUri(job.source)}),
      el("td", {}, outputsSummary(job.outputs)),
      el("td", {class: "code", text: job.error_code || ""}),
      el("td", {}, timeCell(job.created_at)),
      el("td", {class: "duration", text: duration(job)}),
      el("td", {}, actions(job)))));
    if (!jobs.length) {
      body.appendChild(el("tr", {}, el("td", {colspan: 10, class: "empty",
        text: search ? "no job on this page starts with " + search : (cursor ? "no more jobs" : "no jobs yet")})));
    }
    note.textContent = search ? "Showing the jobs of this page whose id starts with " + search + "; a whole id opens its job." : "";
  }
  return {refresh};
}

// ---- one job ------------------------------------------------------------------------------

let errorAdvice = null;  // code -> {when, what_to_do}, read once

async function adviceFor(code) {
  if (!code) return null;
  if (!errorAdvice) {
    const table = await call("error-codes");
    errorAdvice = Object.fromEntries(table.job_error_codes.map((row) => [row.code, row]));
  }
  return errorAdvice[code] || null;
}

function definitions(pairs) {
  return el("dl", {class: "facts"}, pairs.filter((p) => p[1] != null && p[1] !== "").map(([term, value]) =>
    [el("dt", {text: term}), el("dd", {"data-fact": term}, value)]));
}

function resultSummary(result) {
  if (!result) return "";
  const facts = [];
  if (result.file_count != null) facts.push(result.file_count + (result.file_count === 1 ? " file" : " files"));
  if (result.size != null) facts.push(bytes(result.size));
  if (result.duration != null) facts.push(span(result.duration));
  if (result.width && result.height) facts.push(result.width + "×" + result.height);
  if (result.bitrate) facts.push(Math.round(result.bitrate / 1000) + " kb/s");
  if (result.count != null) facts.push(result.count + " images");
  const links = [];
  for (const key of ["manifest", "playlist", "first"]) {
    if (result[key]) links.push(el("div", {class: "uri"}, key + ": ", el("span", {text: result[key]})));
  }
  if (result.renditions) {
    links.push(el("div", {}, "renditions: " + result.renditions.map((r) => r.name + (r.height ? " (" + r.height + "p)" : "")).join(", ")));
  }
  if (result.files && result.files.length > 1) {
    links.push(el("details", {}, el("summary", {text: result.files.length + " files listed"}),
      el("ul", {}, result.files.map((f) => el("li", {class: "uri", text: f})))));
  }
  return el("div", {class: "result"}, el("div", {text: facts.join(" · ")}), links);
}

function historyRows(job) {
  const rows = (job.history || []).map(([state, at]) => ({state, at, what: "entered"}));
  if (!rows.length) {  // jobs stored before the history was kept
    rows.push({state: "PENDING", at: job.created_at, what: "submitted"});
    if (job.started_at) rows.push({state: "DOWNLOADING", at: job.started_at, what: "started"});
    if (job.finished_at) rows.push({state: job.state, at: job.finished_at, what: "finished"});
  }
  for (const n of job.notifications || []) {
    rows.push({state: n.state, at: n.delivered_at || null,
      what: n.delivered_at ? "webhook delivered" : "webhook not delivered" + (n.error ? ": " + n.error : "")});
  }
  return rows.sort((a, b) => String(a.at || "~").localeCompare(String(b.at || "~")));
}

function jobView(jobId) {
  let last = null;
  const view = $("view");
  view.replaceChildren(el("p", {class: "note", text: "loading job " + jobId + "..."}));

  async function refresh(mine) {
    let job;
    try {
      job = await call("jobs/" + encodeURIComponent(jobId));
    } catch (e) {
      if (e.status === 404) {
        if (mine === generation) view.replaceChildren(el("p", {class: "stale", text: e.message}), el("p", {}, el("a", {href: "#/jobs", text: "all jobs"})));
        return;
      }
      throw e;
    }
    const advice = await adviceFor(job.error_code);
    if (mine !== generation) return;
    const text = JSON.stringify(job);
    if (text === last) {
      const cell = view.querySelector('dd[data-fact="duration"]');
      if (cell) cell.textContent = duration(job);
      return;
    }
    last = text;
    const phases = job.phases || {};
    fill(view,
      el("h2", {}, "Job ", el("span", {class: "id", id: "job-id", text: job.id}), " ", stateBadge(job.state), " ", actions(job)),
      definitions([
        ["state", stateBadge(job.state)],
        ["progress", jobProgress(job)],
        ["phases", el("span", {class: "phases"}, ["download", "encode", "upload"].map((p) =>
          el("span", {class: "phase-bar"}, p + " ", bar(phases[p] || 0))))],
        ["source", el("span", {class: "uri", text: job.source})],
        ["acceleration", job.acceleration || (job.pieces ? "by the setting" : null)],
        ["pieces", piecesSummary(job)],
        ["webhook", job.notify_url ? el("span", {class: "uri", text: job.notify_url + (job.progress_events ? " (with progress events)" : "")}) : null],
        ["encoder", job.encoder_id ? el("a", {href: "#/fleet", text: job.encoder_id}) : null],
        ["attempt", job.attempt ? String(job.attempt) : null],
        ["submitted", timeCell(job.created_at)],
        ["started", job.started_at ? timeCell(job.started_at) : null],
        ["finished", job.finished_at ? timeCell(job.finished_at) : null],
        ["duration", duration(job)],
        ["updated", timeCell(job.updated_at)],
      ]),
      job.error_code || job.state === "ERROR" ? el("section", {class: "error", id: "job-error"},
        el("h3", {}, "Error ", el("code", {text: job.error_code || ""})),
        el("pre", {class: "details", text: job.details || ""}),
        advice ? el("p", {}, el("strong", {text: "What happened: "}), withCode(advice.when)) : null,
        advice ? el("p", {class: "advice"}, el("strong", {text: "What to do: "}), withCode(advice.what_to_do)) : null)
        : (job.details ? el("section", {}, el("h3", {text: "Details"}), el("pre", {class: "details", text: job.details})) : null),
      el("h3", {text: "Outputs"}),
      el("table", {class: "outputs-table"},
        el("thead", {}, el("tr", {}, ["#", "destination", "preset", "state", "error", "result"].map((h) => el("th", {text: h})))),
        el("tbody", {}, (job.outputs || []).map((o, i) => el("tr", {"data-output": i},
          el("td", {text: i}),
          el("td", {class: "uri", text: o.destination}),
          el("td", {text: o.preset || (o.options ? o.options.length + " pass(es)" : "")}),
          el("td", {}, stateBadge(o.state)),
          el("td", {}, o.error_code ? el("code", {text: o.error_code}) : null, o.error ? el("div", {class: "details", text: o.error}) : null),
          el("td", {}, resultSummary(o.result)))))),
      el("h3", {text: "History"}),
      el("table", {class: "history"},
        el("thead", {}, el("tr", {}, ["time", "state", "what"].map((h) => el("th", {text: h})))),
        el("tbody", {}, historyRows(job).map((r) => el("tr", {},
          el("td", {}, r.at ? timeCell(r.at) : ""), el("td", {}, stateBadge(r.state)), el("td", {text: r.what}))))),
      el("h3", {text: "Webhook deliveries"}),
      job.notifications && job.notifications.length ? el("table", {class: "notifications"},
        el("thead", {}, el("tr", {}, ["id", "state told", "attempts", "HTTP status", "delivered", "error"].map((h) => el("th", {text: h})))),
        el("tbody", {}, job.notifications.map((n) => el("tr", {},
          el("td", {class: "id", text: n.id}), el("td", {text: n.state}), el("td", {text: n.attempts}),
          el("td", {text: n.status == null ? "" : n.status}), el("td", {}, n.delivered_at ? timeCell(n.delivered_at) : ""),
          el("td", {text: n.error || ""})))))
        : el("p", {class: "note", text: job.notify_url ? "none yet" : "no webhook (the job has no notify_url)"}),
      el("h3", {text: "Probe"}),
      job.probe ? el("details", {}, el("summary", {text: "what ffprobe found in the source"}),
        el("pre", {class: "probe", text: JSON.stringify(job.probe, null, 2)}))
        : el("p", {class: "note", text: job.finished_at ? "the source was not probed" : "not probed yet"}));
  }
  return {refresh};
}

// ---- the fleet ---------------------------------------------------------------------------

function market(detail) {
  const words = String(detail || "").split(/\s+/);
  if (words.includes("spot")) return "spot";
  if (words.includes("on-demand")) return "on-demand";
  return "—";  // a local encoder, or a machine the fleet does not describe
}

function fleetView() {
  const summary = el("p", {id: "fleet-summary"});
  const extra = el("div", {id: "fleet-extra"});
  const body = el("tbody", {id: "encoders"});
  $("view").replaceChildren(summary, extra,
    el("table", {class: "fleet"},
      el("thead", {}, el("tr", {}, ["encoder", "state", "market", "machine", "started", "heartbeat", "jobs", "busy until", "slots", "finished / failed / released"].map((h) => el("th", {text: h})))),
      body));

  async function refresh(mine) {
    const [fleet, running] = await Promise.all([
      call("fleet"),
      call("jobs?limit=200&state=" + RUNNING.join(",")),
    ]);
    if (mine !== generation) return;
    const members = Array.isArray(fleet.members) ? fleet.members : [];
    const beats = Array.isArray(fleet.encoders) ? fleet.encoders : [];
    const byId = new Map();
    for (const m of members) byId.set(m.id, {id: m.id, member: m});
    for (const b of beats) byId.set(b.id, {...(byId.get(b.id) || {id: b.id}), beat: b});
    const jobsOf = new Map();
    for (const job of running.jobs) {
      if (!job.encoder_id) continue;
      if (!jobsOf.has(job.encoder_id)) jobsOf.set(job.encoder_id, []);
      jobsOf.get(job.encoder_id).push(job);
    }
    const rows = [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
    const counts = {};
    body.replaceChildren(...rows.map((e) => {
      const info = (e.beat && e.beat.info) || {};
      const seen = e.beat ? parseTime(e.beat.last_seen) : null;
      const age = seen ? (now() - seen.getTime()) / 1000 : null;
      // A spot interruption notice shows as state "interrupted", the
      // heartbeat record outliving the member whose instance went.
      const notice = (e.member && e.member.interrupted) || info.interrupted;
      const state = notice ? "interrupted" : (e.member ? e.member.state : "heartbeating");
      counts[state] = (counts[state] || 0) + 1;
      const jobs = jobsOf.get(e.id) || [];
      for (const id of info.jobs || []) if (!jobs.some((j) => j.id === id)) jobs.push({id: id, progress: null});
      return el("tr", {"data-encoder": e.id},
        el("td", {class: "id", text: e.id}),
        el("td", {}, el("span", {class: "state " + state, text: state,
          title: notice ? notice.kind + " " + notice.action + " (seen " + notice.seen_at + ")" : ""})),
        el("td", {text: (e.member && e.member.market) || info.market || market(e.member && e.member.detail)}),
        el("td", {text: e.member ? e.member.detail : ""}),
        el("td", {}, e.member && e.member.started_at ? timeCell(e.member.started_at) : (info.started_at ? timeCell(info.started_at) : "")),
        el("td", {class: age != null && age > 60 ? "stale" : "", title: e.beat ? e.beat.last_seen : "",
          text: age == null ? "none yet" : span(age) + " ago"}),
        el("td", {}, jobs.length ? jobs.map((j) => el("div", {class: "encoder-job"},
          el("a", {href: "#/jobs/" + j.id, class: "id", text: j.id}), " ",
          j.progress == null ? "" : jobProgress(j))) : "idle"),
        el("td", {class: "busy-until"}, (e.beat && e.beat.busy_until) || (e.member && e.member.busy_until)
          ? timeCell((e.beat && e.beat.busy_until) || e.member.busy_until) : ""),
        el("td", {text: info.slots == null ? "" : info.slots}),
        el("td", {text: info.finished == null ? "" : [info.finished, info.failed, info.released].join(" / ")}));
    }));
    if (!rows.length) body.appendChild(el("tr", {}, el("td", {colspan: 10, class: "empty", text: "no encoders: the farm starts them when jobs wait"})));
    const parts = Object.entries(counts).map(([state, n]) => n + " " + state);
    summary.textContent = rows.length + (rows.length === 1 ? " encoder" : " encoders") + (parts.length ? " (" + parts.join(", ") + ")" : "")
      + "; " + running.jobs.length + " job(s) running";
    // The Scaler's last decision in words, then whatever else the feeder
    // reports about its fleet, as it says it.
    const decision = fleet.scaler && fleet.scaler.decision;
    const said = decision ? [el("p", {class: "note", id: "scaler-decision"}, el("strong", {text: "scaler: "}),
      decision.reason + (decision.launch ? " (launching " + decision.launch + ")" : "")
      + (decision.retire && decision.retire.length ? " (retiring " + decision.retire.join(", ") + ")" : ""))] : [];
    extra.replaceChildren(...said, ...Object.entries(fleet).filter(([k]) => !["members", "encoders", "scaler"].includes(k)).map(([k, v]) =>
      el("p", {class: "note"}, el("strong", {text: k + ": "}), typeof v === "string" ? v : JSON.stringify(v))));
  }
  return {refresh};
}

// ---- start ------------------------------------------------------------------------------------

function start() {
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    const field = $("token");
    const token = field.value.trim();
    if (!token) { $("login-error").textContent = "give a token"; return; }
    sessionStorage.setItem(TOKEN_KEY, token);
    field.value = "";
    $("login").hidden = true;
    route();
  });
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    generation++;
    clearTimeout(timer);
    showLogin("");
  });
  window.addEventListener("hashchange", route);
  $("status").textContent = "loading...";
  route();
}

start();
