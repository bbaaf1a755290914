#!/usr/bin/env python3
"""Render speed on the bundled example.

    .venv/bin/python benchmarks/render_speed.py   # each client: 3 fresh runs; 5 rounds in-process

Measures, and checks against the report issue's targets:
1. one report in a fresh process (``python -m kpireport run … --client ID``), best of N, for
   each example client, with the project's bytecode compiled as an installed wheel has it,
   and the cost of ``import kpireport.cli`` alone;
2. seconds per report when one process renders many (compute, HTML, PDF split);
3. the engine's total against WeasyPrint alone laying out and writing the same HTML;
4. what one chart costs to build.
Prints JSON; exit status 1 when a target is missed. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.example.yaml"
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def compile_bytecode() -> None:
    """Compile the project's modules as installing its wheel does.

    An editable install never gets bytecode when ``PYTHONDONTWRITEBYTECODE`` is set (as on
    the machine of the figures), and compiling kpireport and its plugins again in every
    process costs about 0.1 s of a fresh run that no installed copy pays.
    """
    import compileall

    for folder in ("kpireport", "plugins", "report_templates"):
        compileall.compile_dir(str(ROOT / folder), quiet=1)


def fresh_process(client: str, runs: int) -> dict[str, float]:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "kpireport", "run", str(CONFIG), "--client",
                            client, "--output", out, "--workers", "1"], check=True,
                           capture_output=True, cwd=ROOT)
            times.append(time.perf_counter() - started)
    imports = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import kpireport.cli"], check=True, cwd=ROOT)
        imports.append(time.perf_counter() - started)
    return {"best_s": round(min(times), 3), "median_s": round(statistics.median(times), 3),
            "import_cli_s": round(min(imports), 3)}


def in_process(rounds: int) -> dict[str, object]:
    from kpireport.config import load_config
    from kpireport.engine import compute_report
    from kpireport.plugins import load_plugins
    from kpireport.render import render_html, render_report, safe_fetcher
    from kpireport.weasy import load

    HTML = load().HTML

    config = load_config(CONFIG)
    plugins = load_plugins()
    compute, html_t, pdf_t, alone = [], [], [], []
    pages, charts = {}, {}
    per_client: dict[str, list[float]] = {}
    render_report(compute_report(config, config.clients[0], plugins, now=NOW), plugins)  # warm
    for _ in range(rounds):
        for client in config.clients:
            t0 = time.perf_counter()
            report = compute_report(config, client, plugins, now=NOW)
            t1 = time.perf_counter()
            html, theme, dirs = render_html(report, plugins)
            t2 = time.perf_counter()
            rendered = render_report(report, plugins)
            t3 = time.perf_counter()
            compute.append(t1 - t0)
            html_t.append(t2 - t1)
            # render_report renders the HTML again: its PDF share is what is left.
            pdf_t.append((t3 - t2) - (t2 - t1))
            options = {"pdf_tags": report.brand.get("tagged", True)}
            if report.brand.get("archival"):
                options["pdf_variant"] = "pdf/a-3b"
            t4 = time.perf_counter()
            document = HTML(string=html, base_url=Path(theme.path).as_uri() + "/",
                            url_fetcher=safe_fetcher(dirs)).render(**options)
            document.write_pdf(**options)
            alone.append(time.perf_counter() - t4)
            per_client.setdefault(client.id, []).append(t3 - t0 - (t2 - t1))
            pages[client.id] = rendered.pages
            charts[client.id] = html.count('class="chart"')
    n = len(compute)
    total = (sum(compute) + sum(html_t) + sum(pdf_t)) / n
    return {
        "reports": n,
        "per_report_s": round(total, 3),
        "compute_s": round(sum(compute) / n, 3),
        "html_s": round(sum(html_t) / n, 3),
        "pdf_s": round(sum(pdf_t) / n, 3),
        "weasyprint_alone_s": round(sum(alone) / n, 3),
        "engine_vs_weasyprint": round(total / (sum(alone) / n), 2),
        "per_client_s": {c: round(sum(v) / len(v), 3) for c, v in per_client.items()},
        "pages": pages,
        "charts": charts,
    }


def chart_cost(repeat: int = 2000) -> float:
    from kpireport.charts import line_chart
    from kpireport.kpis import SeriesPoint, Unit
    from kpireport.periods import add_months

    first = dt.date(2025, 10, 1)
    points = [SeriesPoint(add_months(first, i), 1000 + 37 * i) for i in range(13)]
    last = [SeriesPoint(p.start, 900 + 20 * i) for i, p in enumerate(points)]
    started = time.perf_counter()
    for _ in range(repeat):
        line_chart(points, locale="fr_FR", unit=Unit.CURRENCY, target=1500, last_year=last)
    return (time.perf_counter() - started) / repeat


def calibration(repeat: int = 5) -> float:
    """Seconds of a fixed pure-Python loop: a yardstick to compare the machines of two runs."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i * i % 7
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--client", action="append",
                        help="client for the fresh-process runs (repeatable; default: all)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from kpireport.config import load_config

    clients = args.client or [c.id for c in load_config(CONFIG).clients]
    compile_bytecode()
    fresh = {client: fresh_process(client, args.runs) for client in clients}
    figures: dict[str, object] = {"calibration_s": round(calibration(), 3),
                                  "fresh_process": fresh,
                                  "one_process": in_process(args.rounds),
                                  "chart_ms": round(chart_cost() * 1000, 3)}
    print(json.dumps(figures, indent=2))
    one = figures["one_process"]
    assert isinstance(one, dict)
    checks = {
        f"fresh process ≤ 1.5 s ({client}: {f['best_s']} s)": f["best_s"] <= 1.5
        for client, f in fresh.items()
    }
    checks.update({
        "many in one process ≤ 0.6 s/report": one["per_report_s"] <= 0.6,
        "engine ≤ 1.3 × WeasyPrint alone": one["engine_vs_weasyprint"] <= 1.3,
        "≥ 8 pages and ≥ 6 charts": all(one["pages"][c] >= 8 and one["charts"][c] >= 6
                                        for c in clients),
    })
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'MISS'} {name}", file=sys.stderr)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
