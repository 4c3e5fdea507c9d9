// orch ui: one page, hash routes, read-only JSON endpoints. No framework and no build step:
// every value from the store is inserted as text (esc), never as markup.
"use strict";

const STATES = ["Completed", "Failed", "Crashed", "Running", "Retrying", "Pending", "Cancelled", "Cached"];
const main = () => document.getElementById("main");
let tailTimer = null;

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function when(ts) {
  if (ts == null) return "";
  const d = new Date(ts * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
function duration(start, end) {
  if (start == null) return "";
  const s = (end ?? Date.now() / 1000) - start;
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}
function badge(state, stale) {
  return `<span class="state ${esc(state)}">${esc(state)}</span>` + (stale ? '<span class="stale" title="no heartbeat: the process may be gone">no heartbeat</span>' : "");
}
async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);
  return response.json();
}
function showError(error) {
  main().innerHTML = `<p class="error">${esc(error.message || error)}</p>`;
}
function params() {
  const hash = location.hash.slice(1) || "/runs";
  const [path, query] = hash.split("?");
  return { path, query: new URLSearchParams(query || "") };
}

// --- runs list -------------------------------------------------------------------------
async function runsPage(query) {
  const flows = await getJSON("/api/flows");
  const api = new URLSearchParams();
  for (const key of ["flow", "state", "tag", "before", "limit"]) if (query.get(key)) api.set(key, query.get(key));
  for (const key of ["since", "until"]) {
    if (query.get(key)) api.set(key, String(Date.parse(query.get(key)) / 1000));
  }
  const page = await getJSON(`/api/runs?${api}`);
  const option = (value, current) => `<option value="${esc(value)}"${value === current ? " selected" : ""}>${esc(value || "any")}</option>`;
  const rows = page.runs.map((r) => `<tr>
      <td>${esc(r.flow_name)}${r.deployment ? `<div class="muted">deployment ${esc(r.deployment)}</div>` : ""}</td>
      <td><a href="#/run/${encodeURIComponent(r.id)}">${esc(r.name)}</a><div class="mono muted">${esc(r.id)}</div></td>
      <td>${badge(r.state, r.stale)}</td>
      <td>${esc(when(r.started))}</td>
      <td class="num">${esc(duration(r.started, r.ended))}</td>
      <td class="num">${esc(r.task_runs)}</td>
      <td>${r.tags.map(esc).join(", ")}</td></tr>`).join("");
  const older = new URLSearchParams(query);
  if (page.next) older.set("before", page.next);
  const newest = new URLSearchParams(query);
  newest.delete("before");
  main().innerHTML = `<h1>Flow runs</h1>
    <form class="filters" id="filters">
      <label>flow<select name="flow">${["", ...flows].map((f) => option(f, query.get("flow") || "")).join("")}</select></label>
      <label>state<select name="state">${["", ...STATES].map((s) => option(s, query.get("state") || "")).join("")}</select></label>
      <label>tag<input name="tag" value="${esc(query.get("tag") || "")}" size="12"></label>
      <label>started after<input type="datetime-local" name="since" value="${esc(query.get("since") || "")}"></label>
      <label>started before<input type="datetime-local" name="until" value="${esc(query.get("until") || "")}"></label>
      <button type="submit">Filter</button>
    </form>
    <table id="runs"><thead><tr><th>flow</th><th>run</th><th>state</th><th>started</th><th>duration</th><th>tasks</th><th>tags</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="7" class="muted">No flow runs match.</td></tr>'}</tbody></table>
    <div class="pager">${query.get("before") ? `<a href="#/runs?${newest}">Newest</a>` : ""}${page.next ? `<a id="older" href="#/runs?${older}">Older</a>` : ""}</div>`;
  document.getElementById("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = new URLSearchParams();
    for (const [key, value] of new FormData(event.target)) if (value) chosen.set(key, value);
    location.hash = `#/runs?${chosen}`;
  });
}

// --- one run ---------------------------------------------------------------------------
function lanes(tasks) {
  // Greedy interval packing: a bar goes on the first lane free at its start, so thousands
  // of short tasks stay a few hundred pixels tall.
  const ends = [];
  return tasks.map((t) => {
    const end = t.ended ?? Date.now() / 1000;
    let lane = ends.findIndex((e) => e <= t.started);
    if (lane < 0) { lane = ends.length; ends.push(end); } else ends[lane] = end;
    return lane;
  });
}
function timeline(run) {
  const tasks = run.task_runs;
  if (!tasks.length) return '<p class="muted">No task runs.</p>';
  const start = Math.min(run.started, ...tasks.map((t) => t.started));
  const end = Math.max(run.ended ?? Date.now() / 1000, ...tasks.map((t) => t.ended ?? Date.now() / 1000));
  const width = 1100, left = 8, bar = 12, gap = 3, axis = 18;
  const span = Math.max(end - start, 1e-3);
  const x = (ts) => left + ((ts - start) / span) * (width - 2 * left);
  const lane = tasks.length > 200 ? lanes(tasks) : tasks.map((_, i) => i);
  const height = axis + (Math.max(...lane) + 1) * (bar + gap);
  const parts = [];
  for (let i = 0; i < tasks.length; i++) {
    const t = tasks[i];
    const x0 = x(t.started), x1 = x(t.ended ?? Date.now() / 1000);
    const retried = t.attempts > 1 ? " retried" : "";
    // No <title> per bar: one hover handler (below) names the bar, half the DOM nodes.
    parts.push(`<rect class="bar ${esc(t.state)}${retried}" x="${x0.toFixed(1)}" y="${axis + lane[i] * (bar + gap)}" width="${Math.max(x1 - x0, 1.5).toFixed(1)}" height="${bar}"/>`);
  }
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="${(left + f * (width - 2 * left) - (f === 1 ? 40 : 0)).toFixed(0)}" y="12">+${esc(duration(start, start + f * span))}</text>`).join("");
  return `<svg id="timeline" width="${width}" height="${height}" role="img" aria-label="task runs over time"><g class="ticks">${ticks}</g><g class="bars">${parts.join("")}</g></svg><div id="tip" hidden></div>`;
}
function hoverNames(tasks) {
  const bars = document.querySelector("#timeline g.bars");
  const tip = document.getElementById("tip");
  if (!bars) return;
  bars.addEventListener("mousemove", (event) => {
    const i = Array.prototype.indexOf.call(bars.children, event.target);
    if (i < 0) return;
    const t = tasks[i];
    tip.textContent = `${t.name} · ${t.state} · ${duration(t.started, t.ended)}${t.attempts > 1 ? ` · ${t.attempts} attempts` : ""}`;
    tip.hidden = false;
    tip.style.left = `${event.pageX + 12}px`;
    tip.style.top = `${event.pageY + 12}px`;
  });
  bars.addEventListener("mouseleave", () => { tip.hidden = true; });
}
function facts(pairs) {
  return `<dl class="facts">${pairs.filter(([, v]) => v !== "" && v != null).map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join("")}</dl>`;
}
function logLines(lines) {
  // Plain text: it goes into textContent, which never parses markup.
  return lines.map((l) => `${when(l.ts)} ${l.level.padEnd(7)} ${l.message}`).join("\n");
}
function taskRuns(table) {
  // The API sends columns + rows (compact for 10,000 tasks); the page reads objects.
  const { columns, rows } = table;
  return rows.map((row) => {
    const t = {};
    for (let i = 0; i < columns.length; i++) t[columns[i]] = row[i];
    return t;
  });
}
async function fetchRun(runId) {
  const run = await getJSON(`/api/runs/${encodeURIComponent(runId)}`);
  run.task_runs = taskRuns(run.task_runs);
  return run;
}
async function runPage(runId) {
  const run = await fetchRun(runId);
  const parameters = Object.entries(run.parameters);
  const parent = run.parent ? `<a href="#/run/${encodeURIComponent(run.parent.id)}">${esc(run.parent.flow_name)} / ${esc(run.parent.name)}</a>` : "";
  const children = run.child_flow_runs.map((c) => `<tr><td>${esc(c.flow_name)}</td><td><a href="#/run/${encodeURIComponent(c.id)}">${esc(c.name)}</a></td><td>${badge(c.state)}</td><td class="num">${esc(duration(c.started, c.ended))}</td></tr>`).join("");
  const tasks = run.task_runs.slice(0, 500).map((t) => `<tr><td>${esc(t.name)}</td><td>${badge(t.state)}</td><td class="num">${esc(t.attempts)}</td><td>${esc(when(t.started))}</td><td class="num">${esc(duration(t.started, t.ended))}</td><td class="error">${esc(t.error || "")}</td></tr>`).join("");
  main().innerHTML = `<h1>${esc(run.flow_name)} / ${esc(run.name)}</h1>
    ${facts([["state", badge(run.state, run.stale)], ["id", `<code>${esc(run.id)}</code>`], ["started", esc(when(run.started))],
      ["duration", esc(duration(run.started, run.ended))], ["attempts", esc(run.attempts)], ["tags", run.tags.map(esc).join(", ")], ["parent", parent],
      ...Object.entries(run.links || {}).map(([k, v]) => [k, `<span class="mono">${esc(v)}</span>`])])}
    ${run.error ? `<h2>Error</h2><pre class="error" id="error">${esc(run.error)}</pre>` : ""}
    <h2>Task runs (${run.task_runs.length})</h2><div class="timeline">${timeline(run)}</div>
    ${parameters.length ? `<h2>Parameters</h2><table id="parameters"><tbody>${parameters.map(([k, v]) => `<tr><th>${esc(k)}</th><td><code>${esc(typeof v === "string" ? v : JSON.stringify(v))}</code></td></tr>`).join("")}</tbody></table>` : ""}
    ${children ? `<h2>Child flow runs</h2><table id="children"><tbody>${children}</tbody></table>` : ""}
    <h2>Logs</h2><pre class="logs" id="logs"></pre>
    ${tasks ? `<h2>Task run details</h2><table id="tasks"><thead><tr><th>task run</th><th>state</th><th>attempts</th><th>started</th><th>duration</th><th>error</th></tr></thead><tbody>${tasks}</tbody></table>${run.task_runs.length > 500 ? '<p class="muted">The first 500 are listed; the timeline shows all.</p>' : ""}` : ""}`;
  hoverNames(run.task_runs);
  let next = 0;
  const pre = document.getElementById("logs");
  async function tail() {
    const chunk = await getJSON(`/api/runs/${encodeURIComponent(runId)}/logs?after=${next}`);
    if (chunk.lines.length) pre.textContent += (next ? "\n" : "") + logLines(chunk.lines);
    next = chunk.next;
    const live = ["Running", "Retrying", "Pending"].includes(run.state) && !run.stale;
    if (chunk.lines.length >= 2000) tailTimer = setTimeout(tail, 0);
    else if (live) tailTimer = setTimeout(async () => { await refreshState(); tail(); }, 1000);
  }
  async function refreshState() {
    const fresh = await getJSON(`/api/runs/${encodeURIComponent(runId)}`);
    if (fresh.state !== run.state || fresh.task_runs.rows.length !== run.task_runs.length) {
      if (params().path === `/run/${runId}`) runPage(runId).catch(showError);
      throw new Error("re-rendered");
    }
  }
  tail().catch(() => {});
}

// --- blocks ----------------------------------------------------------------------------
async function blocksPage() {
  const blocks = await getJSON("/api/blocks");
  const rows = blocks.map((b) => `<tr><td>${esc(b.type)}</td><td><a href="#/block/${encodeURIComponent(b.type)}/${encodeURIComponent(b.name)}">${esc(b.name)}</a></td><td class="num">${esc(b.revision)}</td><td>${esc(when(b.updated))}</td></tr>`).join("");
  main().innerHTML = `<h1>Blocks</h1><table id="blocks"><thead><tr><th>type</th><th>name</th><th>revision</th><th>updated</th></tr></thead>
    <tbody>${rows || '<tr><td colspan="4" class="muted">No saved blocks.</td></tr>'}</tbody></table>`;
}
async function blockPage(slug, name) {
  const block = await getJSON(`/api/blocks/${encodeURIComponent(slug)}/${encodeURIComponent(name)}`);
  const show = (v) => (typeof v === "string" ? v : JSON.stringify(v, null, 2));
  const rows = Object.entries(block.fields).map(([k, v]) => `<tr><th>${esc(k)}</th><td><code>${esc(show(v))}</code></td></tr>`).join("");
  main().innerHTML = `<h1>${esc(block.type)}/${esc(block.name)}</h1><p class="muted">revision ${esc(block.revision)}; secrets are masked and never decrypted here.</p>
    <table id="fields"><tbody>${rows}</tbody></table>`;
}

// --- routing ---------------------------------------------------------------------------
function route() {
  clearTimeout(tailTimer);
  const { path, query } = params();
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  document.getElementById("nav-runs").classList.toggle("active", parts[0] !== "blocks" && parts[0] !== "block");
  document.getElementById("nav-blocks").classList.toggle("active", parts[0] === "blocks" || parts[0] === "block");
  let page;
  if (parts[0] === "run" && parts[1]) page = runPage(parts[1]);
  else if (parts[0] === "blocks") page = blocksPage();
  else if (parts[0] === "block" && parts.length >= 3) page = blockPage(parts[1], parts.slice(2).join("/"));
  else page = runsPage(query);
  page.catch(showError);
}
window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", route);
