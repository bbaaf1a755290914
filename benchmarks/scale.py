#!/usr/bin/env python3
"""Scale: many clients from a generated config and data, with 1 and 2 workers.

    .venv/bin/python benchmarks/scale.py                 # 200 clients
    .venv/bin/python benchmarks/scale.py --clients 40    # quicker

Checks the targets of the batch issue and prints the figures:
- throughput with 2 workers at least 1.7× that with 1 (needs 2 free CPUs);
- peak memory of a worker does not grow with the number of clients (each report runs in
  its own forked process: the peak over the first tenth of the clients is compared with the
  peak over all of them).
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = parser.parse_args()
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
