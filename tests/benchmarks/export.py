"""Benchmark 6: a wave's microdata written as CSV, its time and peak memory.

The export is ``python manage.py export_wave WAVE_ID --format csv --output FILE``
run as a process of its own, on a wave of 10^3 and one of 10^6 stored responses;
its peak resident memory is the kernel's account of that process (``ru_maxrss``
from ``wait4``). If the export streams, the two peaks are close: the rows pass
through in chunks and are never all held at once.

The baseline writes the same rows (the same tables joined, the same columns, in the
same order) with ``psql``'s ``\\copy (SELECT ...) TO FILE WITH (FORMAT csv)``, which
is a bare ``COPY ... TO STDOUT`` in CSV, run and measured the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.benchmarks import database
from tests.benchmarks.common import OUT, ROOT, csv_path, respondents, say, write_csv

SIZES = (10**3, 10**6)
TARGET_MB = 300

# The rows and columns `fielding.selectors.microdata_rows` reads, in its order.
ROWS_SQL = """
SELECT p.id, p.external_id, s.code, g.code, pl.code, p.mode, p.language,
       u.username, a.experiment_id, a.arm, a.item_order, a.source, r.status, r.count,
       r.second_count, p.weight, p.late, p.registered_at, a.card_shown_at,
       p.started_at, p.finished_at, p.received_at, p.answers
FROM fielding_assignment a
JOIN fielding_respondent p ON p.id = a.respondent_id
LEFT JOIN fielding_response r ON r.assignment_id = a.id
LEFT JOIN survey_stratum s ON s.id = p.stratum_id
LEFT JOIN survey_settlement pl ON pl.id = p.place_id
LEFT JOIN survey_region g ON g.id = pl.region_id
LEFT JOIN auth_user u ON u.id = p.interviewer_id
WHERE p.wave_id = {wave}
ORDER BY a.respondent_id, a.experiment_id
"""


# Runs its arguments as a child of its own and prints the child's wall time and peak
# resident memory. A child started straight from the benchmark would be reported
# with at least the benchmark's own peak: at exec the kernel keeps the larger of the
# old and the new memory's peaks, and the old one is the parent's.
LAUNCHER = """
import os, sys, time
began = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.execvp(sys.argv[1], sys.argv[1:])
_pid, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - began, usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measured(command: list[str], env: dict | None = None) -> dict:
    """Run ``command`` to its end; its wall time and peak resident memory."""
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LAUNCHER, *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise AssertionError(f"{command[:4]} exited {done.returncode}: {done.stderr}")
    seconds, peak_kb = done.stdout.split()
    return {"seconds": float(seconds), "peak_rss_mb": int(peak_kb) / 1024}


def export(wave_id: int, path) -> dict:
    env = {**os.environ, **database.server_environment(), "LOG_LEVEL": "WARNING"}
    return measured(
        [
            sys.executable, "manage.py", "export_wave", str(wave_id),
            "--format", "csv", "--output", str(path),
        ],
        env=env,
    )  # fmt: skip


def bare_copy(wave_id: int, path) -> dict:
    sql = " ".join(ROWS_SQL.format(wave=int(wave_id)).split())
    return measured(
        [
            "psql", "-X", "-q", "-h", database.HOST, "-p", str(database.PORT),
            "-U", database.USER, "-d", database.NAME, "-v", "ON_ERROR_STOP=1",
            "-c", f"\\copy ({sql}) TO '{path}' WITH (FORMAT csv, HEADER)",
        ]
    )  # fmt: skip


def lines(path) -> int:
    with open(path, "rb") as source:
        return sum(
            chunk.count(b"\n") for chunk in iter(lambda: source.read(1 << 20), b"")
        )


def run(waves: dict[int, int] | None = None) -> dict:
    """``waves`` maps a size to a wave already holding that many responses (the
    estimate job's wave of 10^6 is reused); the others are loaded here."""
    waves = dict(waves or {})
    for n in SIZES:
        if n not in waves:
            data = respondents(n, seed=6)
            write_csv(data, csv_path("export", n))
            waves[n] = database.wave_load(data, f"Benchmark export: {n:,} responses")

    results = {}
    for n in SIZES:
        output = OUT / f"export-{n}-microdata.csv"
        baseline = OUT / f"export-{n}-copy.csv"
        ours = export(waves[n], output)
        bare = bare_copy(waves[n], baseline)
        rows = lines(output) - 1
        if rows != n or lines(baseline) - 1 != n:
            raise AssertionError(f"export of {n:,} responses wrote {rows:,} rows")
        results[str(n)] = {
            "responses": n,
            "export_s": round(ours["seconds"], 2),
            "export_peak_rss_mb": round(ours["peak_rss_mb"], 1),
            "copy_s": round(bare["seconds"], 2),
            "copy_peak_rss_mb": round(bare["peak_rss_mb"], 1),
            "time_ratio": round(ours["seconds"] / bare["seconds"], 2),
            "export_mb": round(output.stat().st_size / 2**20, 1),
            "copy_mb": round(baseline.stat().st_size / 2**20, 1),
            "wave_id": waves[n],
        }
        say(
            f"  export n={n:>9,}: export_wave {ours['seconds']:.1f} s, peak "
            f"{ours['peak_rss_mb']:.0f} MB; bare COPY {bare['seconds']:.1f} s, peak "
            f"{bare['peak_rss_mb']:.0f} MB; time ratio "
            f"{ours['seconds'] / bare['seconds']:.1f}"
        )
        baseline.unlink()

    small, large = results[str(min(SIZES))], results[str(max(SIZES))]
    growth = large["export_peak_rss_mb"] - small["export_peak_rss_mb"]
    return {
        "target": f"peak under {TARGET_MB} MB at 10^6, and flat from 10^3 to 10^6",
        "met": large["export_peak_rss_mb"] < TARGET_MB,
        "peak_growth_mb": round(growth, 1),
        "sizes": results,
    }
