"""The page itself: semantic HTML for what does not change (jobs, tables, noise analysis), the data of the
curves and the gallery as JSON in the page, and one small inline script that draws and pages them.

Everything the page needs is inside it or in its folder of small files beside it (``report_files/``):
no server, no network, no library. ``write`` replaces the page in one rename, so a reader never opens
half a page.
"""

from __future__ import annotations

import html
import json
import os
import re
import time
from importlib import resources
from pathlib import Path

ASSETS = resources.files("reno_exp.report") / "assets"


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def inline(text: str) -> str:
    """Markdown's inline code (`...`) and nothing else: the tables and analysis use no other markup."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(text))


def blocks_html(blocks: list[dict]) -> str:
    out = []
    for b in blocks:
        if "h" in b:
            out.append(f"<h{b['h']}>{inline(b['text'])}</h{b['h']}>")
        elif "table" in b:
            rows = b["table"]
            head = "".join(f"<th>{inline(c)}</th>" for c in rows[0]) if rows else ""
            body = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
            out.append(f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>')
        elif "list" in b:
            out.append("<ul>" + "".join(f"<li>{inline(x)}</li>" for x in b["list"]) + "</ul>")
        else:
            out.append(f"<p>{inline(b['p'])}</p>")
    return "\n".join(out)


def number(x) -> str:
    """As the page's script prints a score: 5 significant digits, whatever the reward's scale."""
    return "—" if x is None else f"{x:.5g}"


def jobs_html(jobs: list[dict]) -> str:
    rows = []
    for n, j in enumerate(jobs):
        overrides = " ".join(f"<code{' class=differs' if o.lstrip('+~') in j['differs'] else ''}>{esc(o)}</code>"
                             for o in j["overrides"])
        improved = "—" if j["improved"] is None else f"{j['improved']:.0%}"
        rows.append(f"<tr><td>{n}</td><th scope=row>{esc(j['label'])}</th><td><a href=\"{esc(j['href'])}\">{esc(j['dir'])}</a></td>"
                    f"<td>{esc(j['suite'])}</td><td>{esc(j['optimizer'])}</td><td class=num>{j['items']}</td>"
                    f"<td class=num>{j['scored']}</td><td class=num>{number(j['initial'])} → {number(j['best'])}</td>"
                    f"<td class=num>{improved}</td><td>{overrides}</td></tr>")
    return ("<div class=wide><table id=job-table><thead><tr><th>#</th><th>job</th><th>folder</th><th>benchmark</th>"
            "<th>method</th><th>items</th><th>scored</th><th>mean reward total, initial → best</th><th>improved</th>"
            "<th>overrides (<code class=differs>what differs</code> between the jobs)</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table></div>")


def figures_html(figures: list[dict], files: str) -> str:
    def one(f):
        img = f'<img src="{esc(files + f["src"])}" alt="{esc(f["name"])}" loading="lazy">'
        link = f'<a href="{esc(f["href"])}">{img}</a>' if f.get("href") else img
        return f"<figure>{link}<figcaption>{esc(f['name'])}</figcaption></figure>"

    main = [f for f in figures if not f.get("noise")]
    noise = [f for f in figures if f.get("noise")]
    out = f'<div class="figures">{"".join(one(f) for f in main)}</div>' if main else ""
    if noise:
        out += (f"<details><summary>{len(noise)} per-prompt noise figures</summary>"
                f'<div class="figures">{"".join(one(f) for f in noise)}</div></details>')
    return out


def analysis_html(analyses: list[dict], files: str, root: str) -> str:
    if not analyses:
        return f"<p>No noise analysis yet: <code>python -m reno_exp.analysis {esc(root)}</code> makes one.</p>"
    parts = []
    for n, a in enumerate(analyses):
        parts.append(f"<details{' open' if n < 2 else ''}><summary>{esc(a['title'])}</summary>"
                     f"{blocks_html(a['blocks'])}{figures_html(a['figures'], files)}</details>")
    return "\n".join(parts)


def script_json(data) -> str:
    """JSON that cannot end the <script> element it sits in: every ``<`` written as its JSON escape."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def render(content: dict, files: str) -> str:
    """The page, for ``content`` (reno_exp.report.data.gather); ``files``: the thumbnails' folder as the page
    refers to it (``report_files/``)."""
    items = content["items"]
    scored = sum(j["scored"] for j in content["jobs"])
    title = f"ReNO report: {content['name']}"
    tables = blocks_html(content["tables"]) + figures_html(content["table_figures"], files)
    data = {"files": files, "jobs": [{k: j[k] for k in ("label", "curves")} for j in content["jobs"]], "items": items}
    css = (ASSETS / "report.css").read_text()
    js = (ASSETS / "report.js").read_text()
    made = time.strftime("%Y-%m-%d %H:%M")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<link rel="icon" href="data:,">
<style>
{css}
</style>
</head>
<body>
<header>
<h1>{esc(title)}</h1>
<p class="sub"><code>{esc(content['root'])}</code>: {len(content['jobs'])} job(s), {items['n']} item(s), {scored} scored by
<code>evaluate</code>. Made {made} by <code>python -m reno_exp.report</code>; run it again after more jobs finish or
after <code>evaluate</code> to update this page.</p>
<nav><a href="#jobs">Jobs</a> <a href="#tables">Tables</a> <a href="#curves">Curves</a>
<a href="#analysis">Noise analysis</a> <a href="#gallery">Gallery</a></nav>
</header>
<main>
<section id="jobs"><h2>Jobs</h2>
{jobs_html(content['jobs'])}
</section>
<section id="tables"><h2>Tables</h2>
{tables}
</section>
<section id="curves"><h2>Per-iterate curves</h2>
<p>Each job's mean over its items, per iterate, of the reward total and of each reward (iterate 0 is the
initial noise).</p>
<div id="curve-list"></div>
</section>
<section id="analysis"><h2>Noise analysis</h2>
{analysis_html(content['analyses'], files, content['root'])}
</section>
<section id="gallery"><h2>Gallery</h2>
<p>Every item: its initial and best image (each opens the full-size file), prompt, seed, category, each
reward initial → best and, where scored, the evaluators' scores of both images.</p>
<form id="controls" onsubmit="return false"></form>
<p id="count" role="status"></p>
<nav class="pager" aria-label="pages"></nav>
<div id="cards"></div>
<nav class="pager" aria-label="pages"></nav>
</section>
</main>
<script id="report-data" type="application/json">{script_json(data)}</script>
<script>
{js}
</script>
</body>
</html>
"""


def write(path: Path, text: str) -> int:
    """Replace the page in one rename; its size in bytes."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = text.encode()
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return len(data)
