"""The static docs site: one ``index.html`` holding the data (JSON), the DAG (SVG), the
styles and the script, so it opens from ``file://`` offline and fetches nothing.

The page routes on the URL fragment: ``#dag`` (the default), ``#node/<name>`` and
``#node/<name>/<column>`` (the column's lineage).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from featurekit.docsite import assets

NODE_W, NODE_H, GAP_X, GAP_Y, MARGIN = 190, 34, 70, 14, 16


def write_site(data: dict[str, Any], folder: str | Path) -> Path:
    """Write ``index.html`` for ``data`` (``catalog.collect``) into ``folder``; its path.

    The file is written next to its final name and renamed, so a browser or ``docs serve``
    never reads half a page.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    page = render_page(data)
    path = folder / "index.html"
    partial = folder / "index.html.tmp"
    partial.write_text(page, encoding="utf-8")
    partial.replace(path)
    return path


def render_page(data: dict[str, Any]) -> str:
    """The whole site as one HTML string."""
    e = html.escape
    title = f"{data['project']} — featurekit docs"
    # "<" escaped: the JSON sits inside <script> and must not close it
    payload = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    return "".join([
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{e(title)}</title><style>{assets.CSS}</style></head><body>",
        "<header><a class='brand' href='#dag'>featurekit docs</a>",
        f"<span class='meta'>{e(data['project'])} · target {e(data['target'])} · generated "
        f"{e(data['generated_at'])} UTC</span></header>",
        "<div id='layout'><nav id='side'>",
        "<input id='search' type='search' placeholder='Search models and columns'"
        " autocomplete='off' aria-label='Search models and columns'>",
        "<div id='results'></div><div id='tree'></div></nav>",
        "<main id='main'><section id='dag-view'>",
        "<h1>Project graph</h1><p class='meta'>Sources on the left, models to the right of "
        "what they read. Click a node to open it.</p>",
        f"<div id='dag'>{dag_svg(data)}</div></section>",
        "<section id='node-view' hidden></section></main></div>",
        f"<script id='fk-data' type='application/json'>{payload}</script>",
        f"<script>{assets.JS}</script></body></html>",
    ])


def dag_svg(data: dict[str, Any]) -> str:
    """The project DAG as SVG: one column per layer, left to right; edges as curves."""
    e = html.escape
    nodes = {n["id"]: n for n in data["nodes"]}
    if not nodes:
        return "<p>No models yet.</p>"

    def x(node: dict[str, Any]) -> int:
        return MARGIN + node["layer"] * (NODE_W + GAP_X)

    def y(node: dict[str, Any]) -> int:
        return MARGIN + node["row"] * (NODE_H + GAP_Y)

    width = max(x(n) for n in nodes.values()) + NODE_W + MARGIN
    height = max(y(n) for n in nodes.values()) + NODE_H + MARGIN
    out = [f"<svg id='dag-svg' width='{width}' "
           f"height='{height}' viewBox='0 0 {width} {height}' role='img' "
           f"aria-label='project graph'><g class='edges'>"]
    for parent, child in data["edges"]:
        a, b = nodes[parent], nodes[child]
        x1, y1 = x(a) + NODE_W, y(a) + NODE_H / 2
        x2, y2 = x(b), y(b) + NODE_H / 2
        bend = max((x2 - x1) / 2, 30)
        out.append(f"<path data-from='{e(parent)}' data-to='{e(child)}' d='M{x1},{y1} "
                   f"C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}'/>")
    out.append("</g>")
    for node in nodes.values():
        status = _status(node)
        label = node["name"] if len(node["name"]) <= 24 else node["name"][:23] + "…"
        kind = node["kind"] if node["kind"] == "source" else node["materialized"]
        out.append(
            f"<a href='#node/{e(node['id'])}' class='dag-node {node['kind']} {status}' "
            f"data-id='{e(node['id'])}'><title>{e(node['name'])} ({e(kind)})</title>"
            f"<rect x='{x(node)}' y='{y(node)}' width='{NODE_W}' height='{NODE_H}' rx='5'/>"
            f"<text x='{x(node) + 10}' y='{y(node) + 15}'>{e(label)}</text>"
            f"<text class='sub' x='{x(node) + 10}' y='{y(node) + 28}'>{e(kind)}</text></a>")
    out.append("</svg>")
    return "".join(out)


def _status(node: dict[str, Any]) -> str:
    """A CSS class for the node's state: never built, failed, or fine."""
    if node["kind"] == "source":
        return "st-" + ((node.get("freshness") or {}).get("status") or "none")
    run = node.get("last_run")
    if run is None:
        return "st-never"
    return "st-" + str(run["status"])
