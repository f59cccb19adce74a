"""What every benchmark shares: synthetic respondents, their CSV, timing, results.

The respondents follow the demo survey's shape: a count on a list of J = 4 control
items, the arm, gender (codes 1-2), education (codes 1-6) and the region of the place
of interview (the demo's ten region codes). Each benchmark writes the data it times
as CSV under var/bench/, with the columns y, treat, gender, education, region, so the
same file can be timed in another tool.
"""

from __future__ import annotations

import csv
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "var" / "bench"
J = 4

# The demo's regions, and one place of interview in each.
PLACE_OF_REGION = {
    "almaty-city": "almaty",
    "astana-city": "astana",
    "shymkent-city": "shymkent",
    "karaganda": "karaganda",
    "aktobe": "aktobe",
    "pavlodar": "pavlodar",
    "east-kazakhstan": "oskemen",
    "kostanay": "kostanay",
    "almaty-region": "talgar",
    "turkistan": "turkistan",
}
REGIONS = list(PLACE_OF_REGION)
CSV_COLUMNS = ["y", "treat", "gender", "education", "region"]
UNIVERSITY = {"1": "0", "2": "0", "3": "0", "4": "0", "5": "1", "6": "1"}


@dataclass
class Respondents:
    """One entry per respondent; ``region`` is an index into `REGIONS`."""

    y: np.ndarray
    treat: np.ndarray
    gender: np.ndarray
    education: np.ndarray
    region: np.ndarray

    def __len__(self) -> int:
        return self.y.size

    def university(self) -> np.ndarray:
        return (self.education >= 5).astype(np.int8)


def respondents(n: int, seed: int = 2022) -> Respondents:
    """``n`` respondents whose share holding the sensitive item depends on every
    covariate, so each level's estimate differs."""
    rng = np.random.default_rng(seed)
    treat = rng.random(n) < 0.5
    gender = rng.integers(1, 3, n).astype(np.int8)
    education = rng.integers(1, 7, n).astype(np.int8)
    region = rng.integers(0, len(REGIONS), n).astype(np.int8)

    share = 0.25 + 0.1 * (gender == 2) + 0.03 * education + 0.01 * region
    control = rng.binomial(J, 0.45 + 0.02 * education, n)
    y = control + treat * (rng.random(n) < share)
    return Respondents(y.astype(float), treat, gender, education, region)


def write_csv(data: Respondents, path: Path) -> Path:
    """The respondents as CSV, region by its code."""
    path.parent.mkdir(parents=True, exist_ok=True)
    regions = np.asarray(REGIONS, dtype=object)[data.region]
    with path.open("w", newline="") as target:
        writer = csv.writer(target)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(
            zip(
                data.y.astype(int).tolist(),
                data.treat.astype(int).tolist(),
                data.gender.tolist(),
                data.education.tolist(),
                regions.tolist(),
            )
        )
    return path


def csv_path(name: str, n: int) -> Path:
    return OUT / f"{name}-{n}.csv"


def median_time(work: Callable[[], object], repeat: int) -> tuple[float, list[float]]:
    """The median wall time of ``repeat`` runs of ``work``, and every run's time."""
    times = []
    for _run in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def interleaved(
    works: dict[str, Callable[[], object]], repeat: int
) -> dict[str, tuple[float, list[float]]]:
    """Median times of several works run in turn, so that a burst of load from the
    other users of the machine falls on all of them rather than on one."""
    times: dict[str, list[float]] = {name: [] for name in works}
    for _run in range(repeat):
        for name, work in works.items():
            start = time.perf_counter()
            work()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(t), t) for name, t in times.items()}


def rounded(values: list[float], digits: int = 4) -> list[float]:
    return [round(v, digits) for v in values]


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def say(text: str) -> None:
    print(text, flush=True)


def all_at_once(work: Callable[..., object], jobs: list[tuple]) -> float:
    """Run ``work(*job)`` in a thread per job, all released together, and return the
    seconds from their release to the end of the last one."""
    start = threading.Barrier(len(jobs) + 1)

    def released(*args):
        start.wait()
        work(*args)

    threads = [threading.Thread(target=released, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began
