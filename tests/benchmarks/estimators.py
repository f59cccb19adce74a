"""Benchmark 1: the estimate report on respondents held in memory.

What is timed is `analysis.estimators.report.report` as an estimate job calls it: the
overall difference in means, the same within every level of gender, education,
university (education 5-6) and region, and the design-effect test with the floor and
ceiling diagnostics. The levels are handed over as text, as the wave's selector gives
them.

The baseline is the least any program computing the table must do: one `np.mean` per
arm and group (overall and every level), on integer codes.
"""

from __future__ import annotations

import numpy as np

from analysis.estimators.report import ReportData, ReportSpec, report
from tests.benchmarks.common import (
    REGIONS,
    ROOT,
    J,
    csv_path,
    interleaved,
    respondents,
    rounded,
    say,
    write_csv,
)

SIZES = (10**4, 10**5, 10**6)
REPEAT = {10**4: 7, 10**5: 5, 10**6: 5}
TARGET = 3.0
BY = ("gender", "education", "university", "region")


def as_text(codes: np.ndarray, names: list[str]) -> np.ndarray:
    """Codes 0..k-1 as an object array of their names, one str per respondent."""
    return np.asarray(names, dtype=object)[codes]


def variables(data) -> tuple[dict, dict, dict]:
    """Each breakdown variable as integer codes (for the baseline), the names of its
    codes, and as text (for the report)."""
    codes = {
        "gender": data.gender - 1,
        "education": data.education - 1,
        "university": data.university(),
        "region": data.region,
    }
    names = {
        "gender": ["1", "2"],
        "education": ["1", "2", "3", "4", "5", "6"],
        "university": ["0", "1"],
        "region": REGIONS,
    }
    text = {name: as_text(codes[name], names[name]) for name in BY}
    return codes, names, text


def numpy_floor(y, treat, codes: dict, levels: dict) -> list[float]:
    """One np.mean per arm and group: the means a table of differences needs."""
    control = ~treat
    means = [np.mean(y[treat]), np.mean(y[control])]
    for name, values in codes.items():
        for level in levels[name]:
            rows = values == level
            means.append(np.mean(y[rows & treat]))
            means.append(np.mean(y[rows & control]))
    return means


def check_same_estimates(result: dict, floor: list[float], labels: dict) -> None:
    """The report's estimates are the baseline's differences of means, group by
    group (the report orders levels its own way, so they are matched by name)."""
    names = [("overall", "overall")]
    names += [(name, level) for name, values in labels.items() for level in values]
    expected = {key: t - c for key, t, c in zip(names, floor[::2], floor[1::2])}
    found = {("overall", "overall"): result["overall"]["estimate"]}
    found.update({(g["variable"], g["level"]): g["estimate"] for g in result["groups"]})
    if found.keys() != expected.keys() or not np.allclose(
        [found[key] for key in expected], list(expected.values()), rtol=0, atol=1e-9
    ):
        raise AssertionError("the report's estimates differ from the baseline's")


def run(sizes=SIZES) -> dict:
    results = {}
    for n in sizes:
        data = respondents(n, seed=n)
        write_csv(data, csv_path("estimators", n))
        codes, names, text = variables(data)
        levels = {name: np.unique(values).tolist() for name, values in codes.items()}
        labels = {
            name: [names[name][level] for level in values]
            for name, values in levels.items()
        }
        report_data = ReportData(
            counts=data.y, treated=data.treat, items=J, levels=text
        )
        spec = ReportSpec(by=BY, design_test=True)

        check_same_estimates(
            report(report_data, spec),
            numpy_floor(data.y, data.treat, codes, levels),
            labels,
        )
        timed = interleaved(
            {
                "report": lambda: report(report_data, spec),  # noqa: B023
                "floor": lambda: numpy_floor(data.y, data.treat, codes, levels),  # noqa: B023
            },
            REPEAT[n],
        )
        (estimators, estimator_runs), (floor, floor_runs) = (
            timed["report"],
            timed["floor"],
        )
        ratio = estimators / floor
        results[str(n)] = {
            "respondents": n,
            "groups": 1 + sum(len(v) for v in levels.values()),
            "estimators_s": round(estimators, 4),
            "numpy_floor_s": round(floor, 4),
            "ratio": round(ratio, 2),
            "estimators_runs_s": rounded(estimator_runs),
            "floor_runs_s": rounded(floor_runs),
            "csv": str(csv_path("estimators", n).relative_to(ROOT)),
        }
        say(
            f"  estimators n={n:>9,}: report {estimators:.3f} s, numpy floor "
            f"{floor:.3f} s, ratio {ratio:.2f}"
        )

    at_largest = results[str(max(sizes))]["ratio"]
    return {
        "target": f"report within {TARGET:g}x the numpy floor at 10^6",
        "met": at_largest <= TARGET,
        "sizes": results,
    }
