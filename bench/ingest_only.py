"""Run only the benchmark's ingest phase (relhealth vs the bare Starlette endpoint).

    python -m bench.ingest_only [--seconds N] [--backend sqlite|postgres]

The full benchmark builds a large dataset first; this lets ingest work be measured alone,
in the same conditions (same budget, same load client) as `bench.run`'s ingest numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
from pathlib import Path

from bench.run import BUDGETS, ingest_phase


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=None, help="time limit per load (default: medium's)")
    args = parser.parse_args()
    budget = BUDGETS["medium"]
    if args.seconds is not None:
        budget = dataclasses.replace(budget, ingest_seconds=args.seconds)
    data_dir = Path("bench/.data")
    data_dir.mkdir(parents=True, exist_ok=True)
    out = asyncio.run(ingest_phase(args.backend, data_dir, budget))
    print(json.dumps(out, indent=1))
    for kind in ("sessions", "aggregates"):
        print(f"ratio {kind}", out[kind]["ratio_vs_bare"], "rounds", out[kind]["rounds_ratio_vs_bare"])


if __name__ == "__main__":
    main()
