"""The docs site's stylesheet and script, embedded in the page (nothing is fetched).

The script reads the JSON the page carries (``#fk-data``), routes on the URL fragment, draws
each model's page, follows column lineage up to the sources and down to the readers, and
searches model and column names and descriptions.
"""

CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 -apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:0;
color:#212529;background:#fff}
header{display:flex;gap:16px;align-items:baseline;padding:10px 18px;border-bottom:1px solid
#dee2e6;background:#f8f9fa}
.brand{font-weight:700;font-size:16px;color:#1c3d6e;text-decoration:none}
.meta{color:#6c757d;font-size:12px}
#layout{display:flex;height:calc(100vh - 42px)}
#side{width:290px;min-width:220px;border-right:1px solid #dee2e6;overflow:auto;padding:10px}
#main{flex:1;overflow:auto;padding:14px 22px}
#search{width:100%;padding:6px 8px;font-size:14px;border:1px solid #ced4da;border-radius:4px}
#results{margin:6px 0}
#results a{display:block;padding:3px 6px;border-radius:3px;text-decoration:none;color:#212529}
#results a:hover,#results a.first{background:#e7f1ff}
#results small,.small{color:#6c757d}
#tree h4{margin:12px 0 4px;font-size:12px;text-transform:uppercase;color:#6c757d}
#tree a{display:block;padding:1px 6px;color:#1c3d6e;text-decoration:none;font-size:13px;
white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
#tree a.current{background:#e7f1ff;font-weight:600}
h1{font-size:22px;margin:4px 0 6px}h2{font-size:17px;margin:22px 0 8px;border-bottom:1px
solid #dee2e6;padding-bottom:3px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;color:#fff;
background:#6c757d;margin-left:6px;vertical-align:middle}
.badge.source{background:#0b7285}.badge.model{background:#1c3d6e}
.ok,.success,.pass{color:#2e7d32}.warn,.late{color:#b26a00}
.error,.failed,.fail{color:#c62828}
.never,.no_data,.none{color:#757575}
table{border-collapse:collapse;font-size:13px}
th,td{padding:4px 10px;border-bottom:1px solid #e9ecef;text-align:left;vertical-align:top}
th{background:#f8f9fa}
table.facts th{width:150px;background:none;color:#495057;font-weight:600}
tr.selected td{background:#fff3bf}
pre{background:#f8f9fa;border:1px solid #e9ecef;border-radius:4px;padding:10px;overflow:auto;
font-size:12px;max-height:480px}
#lineage{border:1px solid #ffe066;background:#fffbe6;border-radius:6px;padding:8px 14px;
margin:10px 0}
#lineage ul{margin:2px 0;padding-left:20px}
.col-ref{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;text-decoration:none}
.col-ref.source{color:#0b7285}.col-ref.model{color:#1c3d6e}
.monitor{border:1px solid #dee2e6;border-radius:6px;padding:8px 12px;margin:8px 0}
.spark circle.ok{fill:#2e7d32}.spark circle.warn{fill:#ef8f00}
.spark circle.error{fill:#c62828}.spark circle.no_data{fill:#757575}
#dag{overflow:auto;max-height:calc(100vh - 150px);border:1px solid #e9ecef;border-radius:6px}
#dag-svg .edges path{fill:none;stroke:#adb5bd;stroke-width:1.2}
#dag-svg .edges path.focus{stroke:#1c3d6e;stroke-width:2.2}
#dag-svg rect{fill:#e7f1ff;stroke:#1c3d6e;stroke-width:1}
#dag-svg .source rect{fill:#e3fafc;stroke:#0b7285}
#dag-svg .st-never rect{stroke-dasharray:4 3;fill:#f8f9fa;stroke:#868e96}
#dag-svg .st-failed rect,#dag-svg .st-error rect{stroke:#c62828;stroke-width:2}
#dag-svg .st-warn rect,#dag-svg .st-interrupted rect{stroke:#ef8f00;stroke-width:2}
#dag-svg .focus rect{stroke-width:3;fill:#fff3bf}
#dag-svg a:hover rect{fill:#fff3bf}
#dag-svg text{font-size:12px;fill:#212529}#dag-svg text.sub{font-size:10px;fill:#6c757d}
"""

JS = r"""
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("fk-data").textContent);
  const NODES = new Map(DATA.nodes.map((n) => [n.id, n]));
  const READERS = new Map();   // "node.column" -> [[reader, column], ...]
  const CHILDREN = new Map();  // node -> nodes reading it
  for (const n of DATA.nodes) {
    for (const p of n.depends_on) {
      if (!CHILDREN.has(p)) CHILDREN.set(p, []);
      CHILDREN.get(p).push(n.id);
    }
    for (const c of n.columns) {
      for (const [pn, pc] of c.upstream) {
        const key = pn + "." + pc;
        if (!READERS.has(key)) READERS.set(key, []);
        READERS.get(key).push([n.id, c.name]);
      }
    }
  }
  const dagView = document.getElementById("dag-view");
  const nodeView = document.getElementById("node-view");
  const search = document.getElementById("search");
  const results = document.getElementById("results");

  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, (ch) => (
      {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[ch]));
  }
  function link(node, column) {
    return "#node/" + encodeURIComponent(node) +
      (column ? "/" + encodeURIComponent(column) : "");
  }
  function columnOf(node, name) {
    const n = NODES.get(node);
    return n ? n.columns.find((c) => c.name === name) : undefined;
  }
  function colRef(node, column) {
    const n = NODES.get(node);
    return `<a class="col-ref ${n ? n.kind : ""}" href="${link(node, column)}">` +
      `${esc(node)}.<b>${esc(column)}</b></a>`;
  }

  // -- lineage ----------------------------------------------------------------------
  function upstreamTree(node, column, seen) {
    const c = columnOf(node, column);
    if (!c || !c.upstream.length) return "";
    let out = "<ul>";
    for (const [pn, pc] of c.upstream) {
      const key = pn + "." + pc;
      out += "<li>" + colRef(pn, pc);
      if (!seen.has(key)) { seen.add(key); out += upstreamTree(pn, pc, seen); }
      out += "</li>";
    }
    return out + "</ul>";
  }
  function origins(node, column) {  // the columns the chain ends at (sources, constants)
    const found = new Map(), seen = new Set(), stack = [[node, column]];
    while (stack.length) {
      const [n, c] = stack.pop(), key = n + "." + c;
      if (seen.has(key)) continue;
      seen.add(key);
      const col = columnOf(n, c), ups = col ? col.upstream : [];
      if (!ups.length && key !== node + "." + column) found.set(key, [n, c]);
      for (const u of ups) stack.push(u);
    }
    return [...found.values()].sort((a, b) => (a.join(".") < b.join(".") ? -1 : 1));
  }
  function readers(node, column) {
    const found = new Map(), stack = [[node, column]];
    while (stack.length) {
      const [n, c] = stack.pop();
      for (const r of READERS.get(n + "." + c) || []) {
        const key = r.join(".");
        if (!found.has(key)) { found.set(key, r); stack.push(r); }
      }
    }
    return [...found.values()].sort((a, b) => (a.join(".") < b.join(".") ? -1 : 1));
  }
  function lineagePanel(n, column) {
    const list = (pairs) => pairs.length
      ? "<ul>" + pairs.map(([a, b]) => "<li>" + colRef(a, b) + "</li>").join("") + "</ul>"
      : "<p class='small'>none</p>";
    const sources = origins(n.id, column).filter(([a]) => (NODES.get(a) || {}).kind === "source");
    const tree = upstreamTree(n.id, column, new Set());
    return `<div id="lineage"><h2>Lineage of ${esc(n.id)}.${esc(column)}</h2>` +
      `<h3>Source columns it derives from</h3><div class="sources">${list(sources)}</div>` +
      `<h3>Derivation, model by model</h3><div class="tree">${tree || "<p class='small'>" +
        (n.kind === "source" ? "a source column" : "computed from no column") + "</p>"}</div>` +
      `<h3>Columns computed from it</h3><div class="readers">${list(readers(n.id, column))}` +
      `</div></div>`;
  }

  // -- a model or source page -------------------------------------------------------
  function fact(name, value) {
    return value === null || value === undefined || value === "" ||
      (Array.isArray(value) && !value.length) ? "" :
      `<tr><th>${esc(name)}</th><td>${value}</td></tr>`;
  }
  function nodeLinks(ids) {
    return (ids || []).map((id) => `<a href="${link(id)}">${esc(id)}</a>`).join(", ");
  }
  function runFacts(n) {
    if (n.kind === "source") {
      const f = n.freshness;
      return fact("freshness", f ? `<span class="${esc(f.status)}">${esc(f.status)}</span> ` +
        `newest row ${esc(f.newest || "none")} · ${esc(f.message)}` : "not declared");
    }
    const run = n.last_run;
    if (!run) return fact("last refresh", "<span class='never'>never refreshed</span>");
    const fresh = n.freshness || {};
    return fact("last refresh", `<span class="${esc(run.status)}">${esc(run.status)}</span>` +
        (run.last_success ? ` · last success ${esc(run.last_success)} UTC` : "") +
        (run.error ? `<br><span class="error">${esc(run.error)}</span>` : "")) +
      fact("rows", run.rows === null ? "" : Number(run.rows).toLocaleString("en")) +
      fact("freshness", `<span class="${esc(fresh.status)}">${esc(fresh.status)}</span>` +
        (fresh.next_due ? ` · next due ${esc(fresh.next_due)} UTC` : "")) +
      fact("newest timestamp", esc(run.high_water_mark));
  }
  function spark(history) {
    const pts = history.filter((p) => p[1] !== null);
    if (pts.length < 2) return "";
    const w = 240, h = 48, vals = pts.map((p) => p[1]);
    const lo = Math.min(...vals), hi = Math.max(...vals), span = (hi - lo) || 1;
    const xy = pts.map((p, i) => [6 + (w - 12) * i / (pts.length - 1),
      h - 6 - (h - 12) * (p[1] - lo) / span]);
    const path = xy.map(([x, y], i) => (i ? "L" : "M") + x.toFixed(1) + "," + y.toFixed(1));
    return `<svg class="spark" width="${w}" height="${h}"><path d="${path.join(" ")}" ` +
      `fill="none" stroke="#868e96"/>` + xy.map(([x, y], i) =>
        `<circle class="${esc(pts[i][2])}" cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="2.5">` +
        `<title>${esc(pts[i][0])}: ${esc(pts[i][1])} (${esc(pts[i][2])})</title></circle>`
      ).join("") + "</svg>";
  }
  function monitorsSection(n) {
    if (!n.monitors.length) return "<p class='small'>No monitor watches it.</p>";
    return n.monitors.map((m) => {
      const rows = m.checks.map((c) => `<tr><td>${esc(c.check)}</td><td>${esc(c.column)}</td>` +
        `<td class="${esc(c.status)}">${esc(c.status)}</td><td>${esc(c.statistic === null ?
          "" : Number(c.statistic).toPrecision(4))}</td><td>${esc(c.as_of)}</td>` +
        `<td>${spark(c.history)}</td></tr>`).join("");
      return `<div class="monitor"><b>${esc(m.name)}</b> <span class="small">${esc(m.path)}` +
        ` · tests: ${esc(m.tests.join(", "))}</span><p>${esc(m.description)}</p>` +
        (rows ? "<table><tr><th>check</th><th>column</th><th>status</th><th>statistic</th>" +
          `<th>as of</th><th>history</th></tr>${rows}</table>` :
          "<p class='small'>not run yet</p>") + "</div>";
    }).join("");
  }
  function testsSection(n) {
    if (!n.tests || !n.tests.length) return "<p class='small'>no tests</p>";
    return "<table><tr><th>test</th><th>kind</th><th>column</th><th>severity</th>" +
      "<th>latest result</th><th>failing rows</th><th>when</th><th>declared in</th></tr>" +
      n.tests.map((t) => `<tr data-test="${esc(t.name)}"><td>${esc(t.name)}</td>` +
        `<td>${esc(t.kind)}</td><td>${esc(t.column)}</td><td>${esc(t.severity)}</td>` +
        `<td class="${esc(t.status)}">${esc(t.status || "not run yet")}` +
        (t.message ? `<br><small>${esc(t.message)}</small>` : "") + "</td>" +
        `<td>${esc(t.failures)}</td><td>${esc(t.at)}</td><td>${esc(t.path)}</td></tr>`
      ).join("") + "</table>";
  }
  function renderNode(id, column) {
    const n = NODES.get(id);
    if (!n) {
      nodeView.innerHTML = `<h1>Not found</h1><p>Nothing is named ${esc(id)}.</p>`;
      return;
    }
    const cols = n.columns.map((c) => `<tr data-column="${esc(c.name)}"` +
      `${c.name === column ? " class='selected'" : ""}><td><a href="${link(n.id, c.name)}">` +
      `${esc(c.name)}</a></td><td>${esc(c.type || "")}</td><td>${esc(c.description)}</td>` +
      `<td>${c.upstream.map(([a, b]) => colRef(a, b)).join(", ")}</td></tr>`).join("");
    const isModel = n.kind === "model";
    nodeView.innerHTML =
      `<h1 id="node-title">${esc(n.name)}<span class="badge ${n.kind}">${esc(n.kind)}` +
      `</span></h1><p>${esc(n.description) || "<span class='small'>no description</span>"}` +
      `</p><table class="facts">` +
      fact("materialized", esc(n.materialized)) + fact("entity", esc((n.entity || []).join(", "))) +
      fact("timestamp", esc(n.timestamp)) + fact("ttl", esc(n.ttl)) +
      fact("lookback", isModel && n.materialized === "incremental" ? esc(n.lookback) : "") +
      fact("schedule", isModel ? esc(n.refresh || "when its inputs change") : "") +
      fact("tags", esc((n.tags || []).join(", "))) + fact("file", esc(n.path || n.seed)) +
      fact("relation", esc(n.relation)) + runFacts(n) +
      fact("reads", nodeLinks(n.depends_on)) + fact("read by", nodeLinks(CHILDREN.get(n.id))) +
      fact("graph", `<a href="#dag/${encodeURIComponent(n.id)}">show in the project graph</a>`) +
      "</table>" +
      (column !== undefined ? lineagePanel(n, column) : "") +
      `<h2>Columns</h2>` + (n.columns.length ? "<table id='columns'><tr><th>column</th>" +
        "<th>type</th><th>description</th><th>computed from</th></tr>" + cols + "</table>" :
        "<p class='small'>unknown until it is built</p>") +
      (n.lineage_error ? `<p class="small">lineage unavailable: ${esc(n.lineage_error)}</p>` : "") +
      (isModel ? "<h2>Tests</h2><div id='tests'>" + testsSection(n) + "</div>" : "") +
      "<h2>Monitors</h2><div id='monitors'>" + monitorsSection(n) + "</div>" +
      (isModel ? `<h2>Compiled SQL</h2>` + (n.compile_error ?
        `<p class="error">${esc(n.compile_error)}</p>` : "") +
        `<pre id="compiled-sql">${esc(n.compiled_sql)}</pre><h2>SQL as written</h2>` +
        `<pre>${esc(n.sql)}</pre>` : "");
    const row = column !== undefined && nodeView.querySelector("#lineage");
    if (row) row.scrollIntoView({block: "nearest"});
  }

  // -- graph focus, search, routing -------------------------------------------------
  function focusGraph(id) {
    for (const el of document.querySelectorAll("#dag-svg .focus")) el.classList.remove("focus");
    if (!id) return;
    const near = new Set([id]);
    for (const p of document.querySelectorAll("#dag-svg .edges path")) {
      if (p.dataset.from === id || p.dataset.to === id) {
        p.classList.add("focus"); near.add(p.dataset.from); near.add(p.dataset.to);
      }
    }
    const node = document.querySelector(`#dag-svg a[data-id="${CSS.escape(id)}"]`);
    if (node) {
      node.classList.add("focus");
      node.scrollIntoView({block: "center", inline: "center"});
    }
  }
  function find(query) {
    const q = query.trim().toLowerCase();
    if (!q) return [];
    const hits = [];
    for (const n of DATA.nodes) {
      const name = n.name.toLowerCase();
      if (name.includes(q)) hits.push([name === q ? 0 : 1, n.id, null, n.kind]);
      else if ((n.description || "").toLowerCase().includes(q)) hits.push([4, n.id, null, n.kind]);
      for (const c of n.columns) {
        const cname = c.name.toLowerCase();
        if (cname.includes(q)) hits.push([cname === q ? 2 : 3, n.id, c.name, "column"]);
        else if ((c.description || "").toLowerCase().includes(q)) {
          hits.push([5, n.id, c.name, "column"]);
        }
      }
    }
    hits.sort((a, b) => a[0] - b[0] || (a[1] + (a[2] || "") < b[1] + (b[2] || "") ? -1 : 1));
    return hits;
  }
  function showResults() {
    const hits = find(search.value);
    results.innerHTML = hits.slice(0, 60).map(([, id, column, kind], i) =>
      `<a class="result${i ? "" : " first"}" href="${link(id, column)}">` +
      (column ? `${esc(id)}.<b>${esc(column)}</b>` : `<b>${esc(id)}</b>`) +
      ` <small>${esc(kind)}</small></a>`).join("") +
      (search.value.trim() && !hits.length ? "<p class='small'>no match</p>" : "") +
      (hits.length > 60 ? `<p class="small">${hits.length - 60} more</p>` : "");
  }
  search.addEventListener("input", showResults);
  search.addEventListener("keydown", (event) => {
    const first = results.querySelector("a.result");
    if (event.key === "Enter" && first) location.hash = first.getAttribute("href");
  });
  function tree(current) {
    const group = (kind, title) => {
      const items = DATA.nodes.filter((n) => n.kind === kind)
        .sort((a, b) => (a.name < b.name ? -1 : 1));
      return items.length ? `<h4>${title}</h4>` + items.map((n) =>
        `<a href="${link(n.id)}"${n.id === current ? " class='current'" : ""}>` +
        `${esc(n.name)}</a>`).join("") : "";
    };
    document.getElementById("tree").innerHTML =
      `<h4><a href="#dag">Project graph</a></h4>` + group("model", "Models") +
      group("source", "Sources");
  }
  function route() {
    const parts = location.hash.replace(/^#/, "").split("/").map(decodeURIComponent);
    if (parts[0] === "node" && parts[1]) {
      dagView.hidden = true; nodeView.hidden = false;
      renderNode(parts[1], parts.length > 2 ? parts.slice(2).join("/") : undefined);
      tree(parts[1]);
      if (parts.length <= 2) document.getElementById("main").scrollTop = 0;
    } else {
      nodeView.hidden = true; dagView.hidden = false;
      tree(parts[1]);
      focusGraph(parts[0] === "dag" ? parts[1] : undefined);
    }
  }
  window.addEventListener("hashchange", route);
  route();
})();
"""
