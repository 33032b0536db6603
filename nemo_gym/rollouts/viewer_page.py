"""The single page of ``ng_viewer`` (HTML, CSS and script inline: the viewer works offline)."""

VIEWER_PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>NeMo Gym rollout viewer</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; display: flex; height: 100vh; color: #1d1d1f; }
  #sidebar { width: 300px; border-right: 1px solid #ddd; display: flex; flex-direction: column; background: #fafafa; }
  #filters { padding: 10px; border-bottom: 1px solid #ddd; }
  #filters label { display: block; font-size: 12px; margin-top: 6px; }
  #filters input { width: 100%; box-sizing: border-box; }
  #list { overflow-y: auto; flex: 1; }
  .entry { padding: 6px 10px; border-bottom: 1px solid #eee; cursor: pointer; font-size: 13px; }
  .entry.selected { background: #dbeafe; }
  .entry .snippet { color: #555; font-size: 12px; }
  #main { flex: 1; overflow-y: auto; padding: 16px 24px; }
  #nav button { margin-right: 6px; }
  .reward { display: inline-block; padding: 2px 8px; border-radius: 10px; font-weight: 600; background: #eee; }
  .reward.good { background: #bbf7d0; } .reward.bad { background: #fecaca; }
  table.fields { border-collapse: collapse; margin: 8px 0; }
  table.fields td { border: 1px solid #ddd; padding: 4px 8px; vertical-align: top; font-size: 13px; }
  table.fields td.key { font-weight: 600; background: #f5f5f5; }
  .item { border: 1px solid #ddd; border-radius: 6px; margin: 10px 0; padding: 8px 12px; }
  .item .title { font-size: 12px; color: #666; margin-bottom: 4px; }
  .item.user { background: #eff6ff; } .item.assistant { background: #f0fdf4; }
  .item.system, .item.developer { background: #fefce8; }
  .item.function_call { background: #faf5ff; } .item.function_call_output { background: #fff7ed; }
  pre { white-space: pre-wrap; word-break: break-word; margin: 0; font-size: 13px; }
  details > summary { cursor: pointer; color: #444; }
  #status { font-size: 12px; color: #666; padding: 4px 10px; }
</style>
</head>
<body>
<div id="sidebar">
  <div id="filters">
    <strong>NeMo Gym rollouts</strong>
    <label>Min reward <input id="min_reward" type="number" step="any"></label>
    <label>Max reward <input id="max_reward" type="number" step="any"></label>
    <label>Text search <input id="q" type="search" placeholder="any text in the rollout"></label>
    <button id="apply" style="margin-top:8px">Apply filters</button>
  </div>
  <div id="status"></div>
  <div id="list"></div>
</div>
<div id="main">
  <div id="nav"><button id="prev">&larr; Previous</button><button id="next">Next &rarr;</button>
    <span id="position"></span></div>
  <details id="aggregate"><summary>Aggregate metrics</summary><pre id="aggregate_json"></pre></details>
  <div id="rollout"></div>
</div>
<script>
"use strict";
let matches = [];
let current = null;

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function pretty(value) {
  if (typeof value === "string") {
    try { return JSON.stringify(JSON.parse(value), null, 2); } catch (e) { return value; }
  }
  return JSON.stringify(value, null, 2);
}

function contentText(content) {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    const text = part => (part && typeof part === "object")
      ? (part.text ?? part.refusal ?? JSON.stringify(part)) : String(part);
    return content.map(text).join("\n");
  }
  return JSON.stringify(content, null, 2);
}

function rewardBadge(reward) {
  const cls = reward === null || reward === undefined ? "" : (reward > 0 ? "good" : "bad");
  return el("span", {className: "reward " + cls}, "reward: " + (reward ?? "n/a"));
}

function renderItems(container, items) {
  let turn = 0, step = 0;
  for (const item of items) {
    if (!item || typeof item !== "object") continue;
    const type = item.type || (item.role ? "message" : "unknown");
    const role = item.role || "";
    if (type === "message" && role === "user") { turn += 1; step = 0; }
    if (type === "function_call") step += 1;
    const label = `Turn ${turn} Step ${step} - `;
    let box;
    if (type === "message") {
      box = el("div", {className: "item " + role},
        el("div", {className: "title"}, label + role), el("pre", {}, contentText(item.content)));
    } else if (type === "function_call") {
      box = el("div", {className: "item function_call"},
        el("div", {className: "title"}, `${label}tool call: ${item.name} (${item.call_id || ""})`),
        el("pre", {}, pretty(item.arguments)));
    } else if (type === "function_call_output") {
      box = el("div", {className: "item function_call_output"},
        el("div", {className: "title"}, `${label}tool output (${item.call_id || ""})`),
        el("pre", {}, pretty(item.output)));
    } else if (type === "reasoning") {
      const texts = [...(item.summary || []), ...(item.content || [])].map(part => part.text || "").join("\n");
      box = el("div", {className: "item reasoning"},
        el("details", {}, el("summary", {}, label + "reasoning"), el("pre", {}, texts || pretty(item))));
    } else {
      box = el("div", {className: "item"}, el("div", {className: "title"}, label + type), el("pre", {}, pretty(item)));
    }
    container.append(box);
  }
}

function renderRollout(index, row) {
  const root = document.getElementById("rollout");
  root.replaceChildren();
  root.append(el("h2", {}, `Rollout ${index + 1} `, rewardBadge(row.reward)));
  const fields = el("table", {className: "fields"});
  for (const [key, value] of Object.entries(row)) {
    if (["responses_create_params", "response", "reward"].includes(key)) continue;
    fields.append(el("tr", {}, el("td", {className: "key"}, key),
      el("td", {}, el("pre", {}, typeof value === "string" ? value : JSON.stringify(value, null, 2)))));
  }
  root.append(el("h3", {}, "Task fields"), fields);
  const params = Object.assign({}, row.responses_create_params || {});
  const input = params.input; const tools = params.tools;
  delete params.input; delete params.tools;
  root.append(el("details", {}, el("summary", {}, "Sampling params"), el("pre", {}, JSON.stringify(params, null, 2))));
  if (Array.isArray(tools) && tools.length) {
    root.append(el("details", {}, el("summary", {}, `Tools (${tools.map(tool => tool.name).join(", ")})`),
      el("pre", {}, JSON.stringify(tools, null, 2))));
  }
  const conversation = el("div", {id: "conversation"});
  root.append(el("h3", {}, "Conversation"), conversation);
  const inputItems = typeof input === "string" ? [{type: "message", role: "user", content: input}] : (input || []);
  const outputItems = (row.response && row.response.output) || [];
  renderItems(conversation, [...inputItems, ...outputItems]);
}

async function show(index) {
  const reply = await fetch(`api/rollouts/${index}`);
  if (!reply.ok) { document.getElementById("rollout").textContent = await reply.text(); return; }
  current = index;
  renderRollout(index, await reply.json());
  const position = matches.indexOf(index);
  document.getElementById("position").textContent =
    position >= 0 ? `match ${position + 1} of ${matches.length}` : "";
  for (const node of document.querySelectorAll(".entry")) {
    node.classList.toggle("selected", Number(node.dataset.index) === index);
  }
  const params = new URLSearchParams(location.search);
  params.set("index", index);
  history.replaceState(null, "", "?" + params.toString());
}

async function applyFilters(selectIndex) {
  const params = new URLSearchParams();
  for (const id of ["min_reward", "max_reward", "q"]) {
    const value = document.getElementById(id).value;
    if (value !== "") params.set(id, value);
  }
  const reply = await fetch("api/search?" + params.toString());
  const body = await reply.json();
  matches = body.matches;
  document.getElementById("status").textContent = `${body.total} matching rollout(s)`;
  const list = document.getElementById("list");
  list.replaceChildren();
  for (const item of body.items) {
    const node = el("div", {className: "entry"},
      el("div", {}, `#${item.index + 1} `, rewardBadge(item.reward)), el("div", {className: "snippet"}, item.snippet));
    node.dataset.index = item.index;
    node.addEventListener("click", () => show(item.index));
    list.append(node);
  }
  const target = selectIndex !== undefined && matches.includes(selectIndex) ? selectIndex : matches[0];
  if (target !== undefined) await show(target);
  else document.getElementById("rollout").textContent = "No rollout matches the filters.";
}

function step(delta) {
  const position = matches.indexOf(current);
  const next = matches[position + delta];
  if (next !== undefined) show(next);
}

async function start() {
  const params = new URLSearchParams(location.search);
  for (const id of ["min_reward", "max_reward", "q"]) {
    if (params.has(id)) document.getElementById(id).value = params.get(id);
  }
  document.getElementById("apply").addEventListener("click", () => applyFilters());
  document.getElementById("q").addEventListener("keydown", event => { if (event.key === "Enter") applyFilters(); });
  document.getElementById("prev").addEventListener("click", () => step(-1));
  document.getElementById("next").addEventListener("click", () => step(1));
  document.addEventListener("keydown", event => {
    if (event.target.tagName === "INPUT") return;
    if (event.key === "ArrowRight" || event.key === "j") step(1);
    if (event.key === "ArrowLeft" || event.key === "k") step(-1);
  });
  const summary = await (await fetch("api/summary")).json();
  document.title = `Rollouts: ${summary.path}`;
  document.getElementById("aggregate_json").textContent = JSON.stringify(summary.metrics, null, 2);
  await applyFilters(params.has("index") ? Number(params.get("index")) : undefined);
  document.body.dataset.ready = "true";
}
start();
</script>
</body>
</html>
"""
