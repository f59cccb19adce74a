"""Run the benchmarks and write their figures to var/bench/results.json.

    python -m tests.benchmarks.run                  # all of them (`make bench`)
    python -m tests.benchmarks.run estimators ml    # some of them

docs/benchmarks.md says what each one measures and against what. Every figure is a
ratio to a baseline measured in the same run, because the machine's other users make
absolute times vary from run to run. A benchmark's own checks (the same estimates,
every response stored once, no slot twice) raise and stop the run; a target that is
missed is reported, not raised.

The modules here are not named ``test_*``, so pytest never collects them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time

from tests.benchmarks.common import OUT, load_average, say

NAMES = ["estimators", "ml", "estimate_job", "ingest", "allocation", "export"]
NEEDS_DATABASE = {"estimate_job", "ingest", "allocation", "export"}
RESULTS = OUT / "results.json"


def machine() -> dict:
    import numpy
    import scipy

    return {
        "cores": os.cpu_count(),
        "note": "2 cores shared with other work; compare ratios, not times",
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
    }


def postgres_version() -> str:
    from tests.benchmarks import database

    with database.connect() as db:
        return db.execute("SHOW server_version").fetchone()[0]


def saved(results: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(NAMES))
    names = parser.parse_args(argv).names or NAMES
    unknown = [name for name in names if name not in NAMES]
    if unknown:
        parser.error(f"no benchmark {unknown[0]!r}; choose from {', '.join(NAMES)}")
    OUT.mkdir(parents=True, exist_ok=True)

    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.setdefault("benchmarks", {})
    results["machine"] = machine()
    began = time.perf_counter()

    if NEEDS_DATABASE & set(names):
        from tests.benchmarks import database

        say("Creating the benchmark database (listexp_bench) ...")
        database.database_create()
        results["machine"]["postgresql"] = postgres_version()

    waves = {}
    for name in names:
        say(f"{name} (load average {load_average()}):")
        started = time.perf_counter()
        result = run_one(name, waves)
        result["measured_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        result["load_average"] = load_average()
        result["seconds"] = round(time.perf_counter() - started, 1)
        results["benchmarks"][name] = result
        saved(results)

    say(f"\nDone in {(time.perf_counter() - began) / 60:.1f} min; wrote {RESULTS}")
    for name in names:
        result = results["benchmarks"][name]
        say(
            f"  {name:<13} {'met' if result['met'] else 'MISSED':<7} {result['target']}"
        )
    return 0


def run_one(name: str, waves: dict) -> dict:
    if name == "estimators":
        from tests.benchmarks import estimators

        return estimators.run()
    if name == "ml":
        from tests.benchmarks import ml_model

        return ml_model.run()
    if name == "estimate_job":
        from tests.benchmarks import estimate_job

        result = estimate_job.run()
        waves[result["respondents"]] = result["wave_id"]
        return result
    if name == "ingest":
        from tests.benchmarks import ingest

        return ingest.run()
    if name == "allocation":
        from tests.benchmarks import allocations

        return allocations.run()
    from tests.benchmarks import export

    return export.run(waves)


if __name__ == "__main__":
    sys.exit(main())
