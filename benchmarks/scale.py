#!/usr/bin/env python3
"""Scale: many clients from a generated config and data, with 1 and 2 workers.

    .venv/bin/python benchmarks/scale.py                 # 200 clients
    .venv/bin/python benchmarks/scale.py --clients 40    # quicker
    .venv/bin/python benchmarks/scale.py --large         # the parent's memory, large files

Checks the targets of the batch issue and prints the figures:
- throughput with 2 workers at least 1.7× that with 1 (needs 2 free CPUs);
- peak memory of a worker does not grow with the number of clients (each report runs in
  its own forked process: the peak over the first tenth of the clients is compared with the
  peak over all of them).

With ``--large``, each client reads a large daily file (``--rows``, 100,000 rows by default:
14 months by day and page, 3 MB), and a run is made for 1, 10, 50 and 200 clients
(``--counts``), each in its own process as ``kpireport run`` does it (load, validate every
client's data, then a worker forked per report): its peak resident memory must stay flat
(at most 1.25× the one-client run's), since the parent keeps no client's parsed data once it
has validated it. A pure-Python loop timed first (``calibration_s``) says how fast the
machine was.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHANNELS = ("Organic Search", "Direct", "Paid Search", "Email")


def generate(folder: Path, clients: int, seed: int = 7) -> Path:
    """One small web CSV per client (14 months by day and channel) and a config for all."""
    rng = random.Random(seed)
    start, end = dt.date(2025, 9, 1), dt.date(2026, 10, 31)
    lines = ["agency:", "  name: Scale Agency", "defaults:", "  period: 2026-10",
             "  output: out", "runs:", "  snapshots: true", "clients:"]
    for i in range(clients):
        cid = f"client-{i:03d}"
        data = folder / "data" / f"{cid}.csv"
        data.parent.mkdir(parents=True, exist_ok=True)
        base = rng.uniform(50, 2000)
        rows = ["date,channel,sessions,conversions,avg_session_duration"]
        day = start
        while day <= end:
            weekly = 0.75 if day.weekday() >= 5 else 1.0
            for channel in CHANNELS:
                sessions = max(0, int(rng.gauss(base * weekly / len(CHANNELS), base / 20)))
                conversions = sum(rng.random() < 0.03 for _ in range(min(sessions, 400)))
                rows.append(f"{day},{channel},{sessions},{conversions},"
                            f"{rng.uniform(40, 240):.1f}")
            day += dt.timedelta(days=1)
        data.write_text("\n".join(rows) + "\n", encoding="utf-8")
        locale = "fr_FR" if i % 3 == 0 else "en_GB"
        lines += [
            f"  - id: {cid}",
            f"    name: Client {i:03d}",
            f"    locale: {locale}",
            "    sources:",
            "      web:",
            "        plugin: csv",
            f"        settings: {{tables: [{{path: data/{cid}.csv, dimensions: [channel]}}]}}",
            "    kpis: [sessions, conversion_rate, avg_session_duration, traffic_sources]",
            "    objectives:",
            "      - {kpi: sessions, target: " + str(int(base * 33)) +
            ", start: 2026-01-01, deadline: 2026-12-31}",
        ]
    path = folder / "config.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_once(config_path: Path, output: Path, workers: int, ids: list[str] | None) -> dict:
    from kpireport.batch import run_batch
    from kpireport.config import load_config
    from kpireport.plugins import load_plugins

    config = load_config(config_path)
    plugins = load_plugins()
    started = time.perf_counter()
    results, _ = run_batch(config, plugins, ids, output_dir=output, workers=workers,
                           force=True)
    seconds = time.perf_counter() - started
    failed = [r for r in results if r.status != "delivered"]
    return {"workers": workers, "reports": len(results), "failed": len(failed),
            "seconds": round(seconds, 2),
            "reports_per_second": round(len(results) / seconds, 2)}


def generate_large(folder: Path, clients: int, rows: int, seed: int = 11) -> Path:
    """One large daily file (by day and page), linked under each client's own name (every
    client's file is parsed on its own: the parse caches know files by path), and a config."""
    rng = random.Random(seed)
    start, end = dt.date(2025, 9, 1), dt.date(2026, 10, 31)
    days = (end - start).days + 1
    pages = max(1, rows // days)
    data = folder / "data" / "large.csv"
    data.parent.mkdir(parents=True, exist_ok=True)
    if not data.exists():
        with data.open("w", encoding="utf-8") as f:
            f.write("date,page,sessions,conversions\n")
            for d in range(days):
                day = start + dt.timedelta(days=d)
                for p in range(pages):
                    sessions = rng.randrange(0, 400)
                    f.write(f"{day},/page-{p:05d},{sessions},{sessions // 40}\n")
    lines = ["agency:", "  name: Scale Agency", "defaults:", "  period: 2026-10",
             "  output: out", "clients:"]
    for i in range(clients):
        cid = f"client-{i:03d}"
        link = folder / "data" / f"{cid}.csv"
        if not link.exists():
            link.hardlink_to(data)
        lines += [f"  - id: {cid}", f"    name: Client {i:03d}", "    sources:",
                  "      web:", "        plugin: csv",
                  f"        settings: {{tables: [{{path: data/{cid}.csv, "
                  "dimensions: [page]}]}",
                  "    kpis: [sessions, conversion_rate]"]
    path = folder / f"config-{clients}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def parent_run(config_path: Path, output: Path, workers: int) -> dict:
    """What ``kpireport run`` does, in this process; its peak memory and its outcome."""
    from kpireport.batch import run_batch
    from kpireport.config import load_config
    from kpireport.config.checks import check_config
    from kpireport.plugins import load_plugins

    started = time.perf_counter()
    config = load_config(config_path)
    plugins = load_plugins()
    problems = check_config(config, plugins)  # parses every client's file, as a run does
    validated = time.perf_counter() - started
    rss_validated = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results, _ = run_batch(config, plugins, None, output_dir=output, workers=workers,
                           force=True)
    return {"clients": len(config.clients), "problems": len(problems),
            "failed": sum(r.status != "delivered" for r in results),
            "seconds": round(time.perf_counter() - started, 1),
            "validation_seconds": round(validated, 1),
            "parent_peak_rss_mib_after_validation": round(rss_validated / 1024, 1),
            "parent_peak_rss_mib": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "worker_peak_rss_mib": round(
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}


def calibration() -> float:
    """A fixed pure-Python loop, best of three: how fast this machine is right now."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i % 7
        best = min(best, time.perf_counter() - started)
    return round(best, 3)


def large(args: argparse.Namespace, folder: Path) -> int:
    import subprocess

    counts = [int(c) for c in args.counts.split(",")]
    figures: dict = {"calibration_s": calibration(), "rows_per_file": args.rows, "runs": []}
    for count in counts:
        config = generate_large(folder, count, args.rows)
        out = subprocess.run([sys.executable, __file__, "--parent-run", str(config),
                              "--workers", str(args.workers)],
                             check=True, capture_output=True, text=True).stdout
        figures["runs"].append(json.loads(out))
        print(json.dumps(figures["runs"][-1]), file=sys.stderr, flush=True)
    first = figures["runs"][0]["parent_peak_rss_mib"]
    last = max(r["parent_peak_rss_mib"] for r in figures["runs"])
    figures["parent_peak_largest_vs_one_client"] = round(last / first, 2)
    print(json.dumps(figures, indent=2))
    ok = last <= first * 1.25 and not any(r["failed"] or r["problems"]
                                          for r in figures["runs"])
    print("targets met" if ok else "TARGETS MISSED", file=sys.stderr)
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    parser.add_argument("--large", action="store_true",
                        help="the parent's peak memory with large files, 1 to 200 clients")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--counts", default="1,10,50,200")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--parent-run", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.parent_run:
        figures = parent_run(args.parent_run, args.parent_run.parent / "out", args.workers)
        print(json.dumps(figures))
        return 0
    if args.large:
        folder = args.keep or Path(tempfile.mkdtemp(prefix="kpireport-large-"))
        folder.mkdir(parents=True, exist_ok=True)
        return large(args, folder)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="kpireport-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    config = generate(folder, args.clients)
    ids = [f"client-{i:03d}" for i in range(args.clients)]
    tenth = ids[: max(2, args.clients // 10)]

    # Memory: RUSAGE_CHILDREN's ru_maxrss is the largest child so far (KiB on Linux).
    run_once(config, folder / "out-small", 1, tenth)
    small_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    one = run_once(config, folder / "out-1", 1, None)
    two = run_once(config, folder / "out-2", 2, None)
    all_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    speedup = two["reports_per_second"] / one["reports_per_second"]
    figures = {
        "clients": args.clients,
        "one_worker": one,
        "two_workers": two,
        "speedup_2_vs_1": round(speedup, 2),
        "worker_peak_rss_mib_first_tenth": round(small_peak / 1024, 1),
        "worker_peak_rss_mib_all": round(all_peak / 1024, 1),
    }
    print(json.dumps(figures, indent=2))
    ok = (speedup >= 1.7 and all_peak <= small_peak * 1.10 and not one["failed"]
          and not two["failed"])
    print("targets met" if ok else "TARGETS MISSED", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
