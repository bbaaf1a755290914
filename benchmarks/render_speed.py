#!/usr/bin/env python3
"""Render speed on the bundled example.

    .venv/bin/python benchmarks/render_speed.py   # each client: 3 fresh runs; 5 rounds in-process

Measures (absolute times are printed, not judged: this machine's speed drifts by the hour):
1. one report in a fresh process (``python -m kpireport run … --client ID``), best of N, for
   each example client, with the project's bytecode compiled as an installed wheel has it,
   and the cost of ``import kpireport.cli`` alone;
2. seconds per report when one process renders many: one ``kpireport run`` over the
   example's clients five times over (one worker, then one per CPU), and the engine's floor,
   a process rendering them round after round (compute, HTML, PDF split);
3. the engine's total against WeasyPrint alone laying out and writing the same HTML;
4. what one chart costs to build.
Prints JSON; exit status 1 when a ratio target is missed (the engine against WeasyPrint
alone) or a report takes more than 9 pages. Not a test: numbers depend on the machine.

    .venv/bin/python benchmarks/render_speed.py --vs ../base   # this checkout (A) against B

With ``--vs PATH`` (another checkout with its own ``.venv``), it measures both side by side
instead, each with its own venv, engine and example (see :func:`side_by_side`): fresh-process
time, WeasyPrint's time per page and per report, each held to 1 plus the run's noise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGE_LIMIT = 9
"""The most pages an example's report may take (the report issue's limit)."""
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


def one_run(copies: int, workers: int) -> dict[str, object]:
    """Seconds per report of one ``kpireport run`` over the example's clients, each ``copies``
    times (as ``acme-robotics-2``, …): the command an agency's cron starts, start-up, config
    validation, parsing each client's data and the forked worker of each report included.
    With one worker, that is the CPU time a report costs; with more, the run's wall time.

    The copies live in a temporary folder next to links to the example's data, assets and
    commentary, so that every report is the example's own.
    """
    import yaml

    example = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    clients = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in ("examples", "report_templates"):
            (folder / name).symlink_to(ROOT / name)
        for k in range(1, copies + 1):
            for client in example["clients"]:
                copy = dict(client, id=f"{client['id']}-{k}")
                clients.append(copy)
                if (ROOT / "commentary" / client["id"]).is_dir():
                    (folder / "commentary").mkdir(exist_ok=True)
                    (folder / "commentary" / copy["id"]).symlink_to(
                        ROOT / "commentary" / client["id"])
        config = folder / "config.yaml"
        config.write_text(yaml.safe_dump(dict(example, clients=clients), allow_unicode=True),
                          encoding="utf-8")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kpireport", "run", str(config), "--output",
                        str(folder / "out"), "--workers", str(workers)], check=True,
                       capture_output=True, cwd=ROOT)
        seconds = time.perf_counter() - started
        pdfs = [p for p in (folder / "out").rglob("*.pdf") if ".kpireport" not in p.parts]
    assert len(pdfs) == len(clients), f"{len(pdfs)} PDFs for {len(clients)} clients"
    return {"reports": len(clients), "workers": workers, "seconds": round(seconds, 2),
            "per_report_s": round(seconds / len(clients), 3)}


def in_process(rounds: int) -> dict[str, object]:
    """Seconds per report in one process that renders the example's reports round after round.

    Three loops, one after the other: the engine (compute, then HTML and PDF, as a batch
    does); the HTML alone, for its share; WeasyPrint alone on the same HTML. Interleaving
    them would measure the engine in a heap that the other loops filled.
    """
    from kpireport.config import load_config
    from kpireport.pipeline.report import compute_report
    from kpireport.plugins import load_plugins
    from kpireport.render import render_html, render_report
    from kpireport.weasy import load

    HTML = load().HTML

    config = load_config(CONFIG)
    plugins = load_plugins()
    for client in config.clients:  # warm: templates compiled, fonts found, sources cached
        render_report(compute_report(config, client, plugins, now=NOW), plugins)
    compute, render, html_t, alone = [], [], [], []
    pages, charts = {}, {}
    per_client: dict[str, list[float]] = {}
    for _ in range(rounds):
        for client in config.clients:
            t0 = time.perf_counter()
            report = compute_report(config, client, plugins, now=NOW)
            t1 = time.perf_counter()
            rendered = render_report(report, plugins)
            t2 = time.perf_counter()
            compute.append(t1 - t0)
            render.append(t2 - t1)
            per_client.setdefault(client.id, []).append(t2 - t0)
            pages[client.id] = rendered.pages
    reports = [compute_report(config, client, plugins, now=NOW) for client in config.clients]
    for _ in range(rounds):
        for report in reports:
            t0 = time.perf_counter()
            render_html(report, plugins)
            html_t.append(time.perf_counter() - t0)
    for report in reports:
        html, theme, dirs = render_html(report, plugins)
        charts[report.client.id] = html.count('class="chart"')
        options = {"pdf_tags": report.brand.get("tagged", True)}
        if report.brand.get("archival"):
            options["pdf_variant"] = "pdf/a-3b"
        for _ in range(rounds):
            t0 = time.perf_counter()
            document = _lay_out(HTML, html, theme, dirs, plugins, options)
            document.write_pdf(**options)
            alone.append(time.perf_counter() - t0)
    n = len(compute)
    total = (sum(compute) + sum(render)) / n
    html_s = sum(html_t) / len(html_t)
    return {
        "reports": n,
        "per_report_s": round(total, 3),
        "compute_s": round(sum(compute) / n, 3),
        "html_s": round(html_s, 3),
        "pdf_s": round(sum(render) / n - html_s, 3),
        "weasyprint_alone_s": round(sum(alone) / len(alone), 3),
        "engine_vs_weasyprint": round(total / (sum(alone) / len(alone)), 2),
        "per_client_s": {c: round(sum(v) / len(v), 3) for c, v in per_client.items()},
        "pages": pages,
        "charts": charts,
    }


def chart_cost(repeat: int = 2000) -> float:
    from kpireport import Unit
    from kpireport.charts import line_chart
    from kpireport.kpis import SeriesPoint
    from kpireport.periods import add_months

    first = dt.date(2025, 10, 1)
    points = [SeriesPoint(start=add_months(first, i), value=1000 + 37 * i) for i in range(13)]
    last = [SeriesPoint(start=p.start, value=900 + 20 * i) for i, p in enumerate(points)]
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


def _lay_out(HTML: Any, html: str, theme: Any, dirs: Any, plugins: Any,
             options: dict[str, Any]) -> Any:
    """WeasyPrint's document as the checkout's engine lays its PDF out: through
    ``kpireport.render.lay_out`` where it exists (its typeface's stylesheet included), else
    as an older engine did, the HTML alone."""
    from kpireport import render

    if hasattr(render, "lay_out"):
        return render.lay_out(html, theme, dirs, plugins, **options)
    return HTML(string=html, base_url=Path(theme.path).as_uri() + "/",
                url_fetcher=render.safe_fetcher(dirs)).render(**options)


# --- Side by side: this checkout against another (--vs) --------------------------------------


def weasyprint_worker(root: Path) -> None:
    """In a checkout's own venv: its engine writes the example's HTML reports, then WeasyPrint
    lays out and writes each as a PDF once untimed (fonts, caches), once timed. Prints JSON:
    the timed seconds and the pages, per client."""
    from kpireport.config import load_config
    from kpireport.pipeline.report import compute_report
    from kpireport.plugins import load_plugins
    from kpireport.render import render_html
    from kpireport.weasy import load

    HTML = load().HTML
    config = load_config(root / "config.example.yaml")
    plugins = load_plugins()
    out = {}
    for client in config.clients:
        report = compute_report(config, client, plugins, now=NOW)
        html, theme, dirs = render_html(report, plugins)
        options = {"pdf_tags": bool(report.brand.get("tagged", True))}
        if report.brand.get("archival"):
            options["pdf_variant"] = "pdf/a-3b"
        for timed in (False, True):
            started = time.perf_counter()
            document = _lay_out(HTML, html, theme, dirs, plugins, options)
            document.write_pdf(**options)
            if timed:
                out[client.id] = {"seconds": time.perf_counter() - started,
                                  "pages": len(document.pages)}
    print(json.dumps(out))


def _python(root: Path) -> str:
    python = root / ".venv" / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"{root}: no .venv/bin/python (give --vs a checkout with its venv)")
    return str(python)


def _fresh_report(root: Path, client: str) -> tuple[float, float]:
    """Wall and CPU (user+sys, the worker process included) seconds of one report in a fresh
    process of that checkout."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run([_python(root), "-m", "kpireport", "run", "config.example.yaml",
                        "--client", client, "--force", "--output", out, "--workers", "1"],
                       check=True, capture_output=True, cwd=root)
        wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _weasyprint(root: Path) -> dict[str, dict[str, float]]:
    answer = subprocess.run([_python(root), str(Path(__file__).resolve()), "--weasyprint-worker",
                             str(root)], check=True, capture_output=True, cwd=root, text=True)
    figures: dict[str, dict[str, float]] = json.loads(answer.stdout.splitlines()[-1])
    return figures


def _summary(a: list[float], b: list[float], *, exact: bool = False) -> dict[str, float]:
    """Both medians, the median of the pair-by-pair ratios A/B and the target it is held to:
    1 plus the noise margin, twice the standard error of that median estimated from the
    ratios' own spread (1.4826 × their median absolute deviation is their σ; the median of n
    has a standard error of about 1.2533 σ/√n), at least 2 %. A figure that does not vary
    from run to run (pages) has no margin."""
    ratios = [x / y for x, y in zip(a, b, strict=True) if y]
    median = statistics.median(ratios)
    mad = statistics.median(abs(r - median) for r in ratios)
    margin = 0.0 if exact else max(0.02, 2 * 1.2533 * 1.4826 * mad / len(ratios) ** 0.5)
    return {"a_median": round(statistics.median(a), 4), "b_median": round(statistics.median(b), 4),
            "ratio": round(median, 3), "ratio_min": round(min(ratios), 3),
            "ratio_max": round(max(ratios), 3), "noise_margin": round(margin, 3),
            "target": round(1 + margin, 3)}


def side_by_side(other: Path, pairs: int, clients: list[str]) -> dict[str, object]:
    """This checkout (A) against ``other`` (B), each with its own venv, in turn A B A B …, one
    warm-up pair then ``pairs`` counted: (1) the example's fresh-process time per report
    (``python -m kpireport run config.example.yaml --client ID``, wall and CPU, the mean over
    the clients), (2) WeasyPrint's time per page (laying out and writing the example's HTML
    reports, each checkout's own, over their pages) and (3) pages per report. Pairing each A
    with the B run next to it cancels the machine's drift, which moves both alike."""
    roots = {"a": ROOT, "b": other.resolve()}
    for root in roots.values():
        subprocess.run([_python(root), "-m", "compileall", "-q", "kpireport", "plugins",
                        "report_templates"], check=True, capture_output=True, cwd=root)
    series: dict[str, dict[str, list[float]]] = {
        k: {"wall": [], "cpu": [], "per_page": [], "per_report": [], "pages": [],
            "most_pages": []} for k in roots}
    for pair in range(pairs + 1):
        for key, root in roots.items():
            walls, cpus = [], []
            for client in clients:
                wall, cpu = _fresh_report(root, client)
                walls.append(wall)
                cpus.append(cpu)
            weasy = _weasyprint(root)
            if pair == 0:
                continue  # the warm-up: disk caches, bytecode, fonts
            pages = sum(weasy[c]["pages"] for c in clients)
            series[key]["wall"].append(statistics.mean(walls))
            series[key]["cpu"].append(statistics.mean(cpus))
            seconds = sum(weasy[c]["seconds"] for c in clients)
            series[key]["per_page"].append(seconds / pages)
            series[key]["per_report"].append(seconds / len(clients))
            series[key]["pages"].append(pages / len(clients))
            series[key]["most_pages"].append(max(weasy[c]["pages"] for c in clients))
    a, b = series["a"], series["b"]
    return {
        "a": str(roots["a"]), "b": str(roots["b"]), "pairs": pairs, "clients": clients,
        "fresh_process_per_report_s": _summary(a["wall"], b["wall"]),
        "fresh_process_per_report_cpu_s": _summary(a["cpu"], b["cpu"]),
        "weasyprint_per_page_s": _summary(a["per_page"], b["per_page"]),
        "weasyprint_per_report_s": _summary(a["per_report"], b["per_report"]),
        "pages_per_report": _summary(a["pages"], b["pages"], exact=True),
        "most_pages": {"a": max(a["most_pages"]), "b": max(b["most_pages"]),
                       "target": PAGE_LIMIT},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--client", action="append",
                        help="client for the fresh-process runs (repeatable; default: all)")
    parser.add_argument("--vs", type=Path, metavar="PATH",
                        help="another checkout (with its .venv) to measure side by side")
    parser.add_argument("--pairs", type=int, default=5,
                        help="with --vs: counted pairs after the warm-up one (default 5)")
    parser.add_argument("--weasyprint-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.weasyprint_worker:
        weasyprint_worker(args.weasyprint_worker)
        return 0
    sys.path.insert(0, str(ROOT))
    if args.vs:
        from kpireport.config import load_config

        clients = args.client or [c.id for c in load_config(CONFIG).clients]
        result = side_by_side(args.vs, args.pairs, clients)
        print(json.dumps(result, indent=2))
        # Wall time is what a cron job waits; CPU time what it costs, and the steadier of
        # the two on a shared machine: both are held to their target.
        # Per page and per report both: a report spread over more pages must not pass on its
        # time per page alone, nor a denser one on its time per report. Its pages are held
        # to the report issue's limit, not to the other checkout's count.
        checked = {"fresh-process time per report": "fresh_process_per_report_s",
                   "fresh-process CPU time per report": "fresh_process_per_report_cpu_s",
                   "WeasyPrint time per page": "weasyprint_per_page_s",
                   "WeasyPrint time per report": "weasyprint_per_report_s"}
        most, pages = result["most_pages"], result["pages_per_report"]
        assert isinstance(most, dict) and isinstance(pages, dict)
        misses = int(most["a"] > PAGE_LIMIT)
        print(f"{'ok  ' if most['a'] <= PAGE_LIMIT else 'MISS'} pages: at most {most['a']} "
              f"a report (limit {PAGE_LIMIT}; B: {most['b']}; mean A/B "
              f"{pages['ratio']})", file=sys.stderr)
        for name, key in checked.items():
            figure = result[key]
            assert isinstance(figure, dict)
            ok = figure["ratio"] <= figure["target"]
            misses += not ok
            print(f"{'ok  ' if ok else 'MISS'} {name}: A/B {figure['ratio']} (target ≤ "
                  f"{figure['target']})", file=sys.stderr)
        return 1 if misses else 0
    from kpireport.config import load_config

    clients = args.client or [c.id for c in load_config(CONFIG).clients]
    compile_bytecode()
    fresh = {client: fresh_process(client, args.runs) for client in clients}
    figures: dict[str, object] = {"calibration_s": round(calibration(), 3),
                                  "fresh_process": fresh,
                                  "one_run": one_run(args.rounds, 1),
                                  "one_run_all_cpus": one_run(args.rounds, os.cpu_count() or 1),
                                  "one_process": in_process(args.rounds),
                                  "chart_ms": round(chart_cost() * 1000, 3)}
    print(json.dumps(figures, indent=2))
    one, run = figures["one_process"], figures["one_run"]
    assert isinstance(one, dict) and isinstance(run, dict)
    # Absolute times are printed, not held to a target: this machine's speed drifts by the
    # hour, so a speed target is a ratio measured in the same run (here against WeasyPrint
    # alone; against another checkout with --vs).
    checks = {
        "engine ≤ 1.3 × WeasyPrint alone": one["engine_vs_weasyprint"] <= 1.3,
        f"≤ {PAGE_LIMIT} pages and ≥ 6 charts a report": all(
            one["pages"][c] <= PAGE_LIMIT and one["charts"][c] >= 6 for c in clients),
    }
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'MISS'} {name}", file=sys.stderr)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
