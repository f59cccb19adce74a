"""Benchmark 2: the maximum likelihood model against the linear one.

Both are `analysis.estimators.models.item_count_regression` on the same respondents,
with gender, education and region as coded covariates (1 + 1 + 5 + 9 columns per
part) and the predicted share by gender, as an estimate job with a model asks. The
linear model is two least-squares fits, so the ratio says what the likelihood search
costs on top.
"""

from __future__ import annotations

from analysis.estimators.models import item_count_regression
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
from tests.benchmarks.estimators import as_text

SIZES = (10**4, 10**5)
REPEAT = {10**4: 5, 10**5: 3}
TARGET = 30.0
COVARIATES = ("gender", "education", "region")


def fit(data, columns, method: str) -> dict:
    return item_count_regression(
        data.y,
        data.treat,
        columns,
        COVARIATES,
        J=J,
        method=method,
        predict_by=("gender",),
        coded=frozenset(COVARIATES),
    ).to_dict()


def run(sizes=SIZES) -> dict:
    results = {}
    for n in sizes:
        data = respondents(n, seed=n + 1)
        path = write_csv(data, csv_path("ml-model", n))
        columns = {
            "gender": as_text(data.gender - 1, ["1", "2"]),
            "education": as_text(data.education - 1, ["1", "2", "3", "4", "5", "6"]),
            "region": as_text(data.region, REGIONS),
        }

        ml = fit(data, columns, "ml")
        if ml["warnings"]:
            say(f"  ml model n={n:,} warns: {ml['warnings']}")
        timed = interleaved(
            {
                "ml": lambda: fit(data, columns, "ml"),  # noqa: B023
                "lm": lambda: fit(data, columns, "lm"),  # noqa: B023
            },
            REPEAT[n],
        )
        (ml_s, ml_runs), (lm_s, lm_runs) = timed["ml"], timed["lm"]
        ratio = ml_s / lm_s
        results[str(n)] = {
            "respondents": n,
            "parameters": 2 * (1 + 1 + 5 + len(REGIONS) - 1),
            "ml_s": round(ml_s, 4),
            "linear_s": round(lm_s, 4),
            "ratio": round(ratio, 2),
            "ml_runs_s": rounded(ml_runs),
            "linear_runs_s": rounded(lm_runs),
            "csv": str(path.relative_to(ROOT)),
        }
        say(
            f"  ml model n={n:>9,}: ml {ml_s:.3f} s, linear {lm_s:.3f} s, "
            f"ratio {ratio:.1f}"
        )

    worst = max(result["ratio"] for result in results.values())
    return {
        "target": f"ml within {TARGET:g}x the linear model",
        "met": worst <= TARGET,
        "sizes": results,
    }
