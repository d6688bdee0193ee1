"""Bulk import alone, as the benchmark measures it:
`python -m bench.import_bench [--lines 300000] [--backend sqlite|postgres] [--profile FILE]`.

Generates the benchmark's import lines (`bench.ingestdata.import_lines`, the medium size's
300,000 by default), creates a fresh database with the benchmark's projects and runs
`run_import` in its own process (`bench.import_child`), printing its figures as JSON. With
`--profile`, the child runs under cProfile and writes its stats to FILE (read them with
`python -m pstats FILE`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


async def measure(lines: int, backend: str, profile: str | None, workers: int | None) -> dict[str, Any]:
    from bench.dataset import ORG
    from bench.ingestdata import import_lines
    from bench.run import _create_projects, _drop_database, _fresh_database

    body, updates = import_lines(lines, ORG, time.time())
    with tempfile.TemporaryDirectory(prefix="relhealth-import-pg-") as tmp:
        data_dir = Path(tmp)
        path = data_dir / "import-lines.jsonl"
        path.write_bytes(body)
        url = await _fresh_database(backend, data_dir, f"import-pg-{backend}")
        try:
            await _create_projects(url, ["web", "ios", "android", "api"])
            prefix = [sys.executable] + (["-m", "cProfile", "-o", profile] if profile else [])
            args = [*prefix, "-m", "bench.import_child", url, str(path)]
            if workers is not None:
                args.append(str(workers))
            proc = await asyncio.create_subprocess_exec(
                *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
            stdout, stderr = await proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"import failed: {stderr.decode()[-2000:]}")
            result = json.loads(stdout.decode().strip().splitlines()[-1])
        finally:
            await _drop_database(backend, url)
    seconds = float(result["seconds"])
    return {
        **result,
        "session_updates": updates,
        "session_updates_per_s": round(updates / seconds, 1),
        "lines_per_s": round(int(result["lines"]) / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--profile", default=None, help="write the child's cProfile stats here")
    parser.add_argument("--workers", type=int, default=None, help="parse workers (default: the setting)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.lines, args.backend, args.profile, args.workers))))


if __name__ == "__main__":
    main()
