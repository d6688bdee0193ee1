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
    from server.importer import file_import_id, run_import
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
        report = await run_import(
            lines,
            import_id=import_id,
            store=store,
            accounts=accounts,
            received_at=time.time(),
            workers=Settings().import_workers if workers is None else workers,
        )
        seconds = time.perf_counter() - started
    finally:
        await engine.dispose()
    return {
        "seconds": seconds,
        "lines": report.lines,
        "accepted": report.accepted,
        "rejected": len(report.rejected),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


if __name__ == "__main__":
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else None
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], workers))))
