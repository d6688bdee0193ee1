"""Run one bulk import in its own process and print its figures as JSON:
`python -m bench.import_child DATABASE_URL FILE [WORKERS]`. Projects must exist already.
WORKERS (parse worker processes) defaults to the `import_workers` setting."""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time


async def main(url: str, path: str, workers: int | None = None) -> dict[str, object]:
    from jobs.importer import file_import_id, run_import
    from server.settings import Settings
    from storage.accounts import AccountStore
    from storage.engine import create_engine
    from storage.store import SessionStore

    engine = create_engine(url)
    try:
        store = SessionStore(engine)
        accounts = AccountStore(engine)
        import_id = file_import_id(path)
        with open(path, "rb") as f:
            lines = f.readlines()
        started = time.perf_counter()
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        report = await run_import(
            lines,
            import_id=import_id,
            store=store,
            accounts=accounts,
            received_at=time.time(),
            workers=Settings().import_workers if workers is None else workers,
        )
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        workers_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)  # pool workers, joined
    finally:
        await engine.dispose()
    return {
        "seconds": seconds,
        "lines": report.lines,
        "accepted": report.accepted,
        "rejected": len(report.rejected),
        # CPU seconds of the importing process and of its (joined) parse workers: with the
        # machine shared, the importing process's CPU is its critical path.
        "main_cpu_s": round(after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime, 2),
        "workers_cpu_s": round(workers_cpu.ru_utime + workers_cpu.ru_stime, 2),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


if __name__ == "__main__":
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else None
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], workers))))
