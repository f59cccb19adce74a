"""Drawing simulated respondents: from the founding memo's Table 1, or from a wave.

Pure functions of a numpy random generator and plain data, no Django. Simulated rows
let a new user see every page with realistic numbers; they are stored with the source
``simulation`` and labelled as such wherever they are shown.

The memo gives arm means per group, not their joint distribution, so a respondent's
control mean and prevalence are the overall values plus each of their groups'
deviations from that variable's share-weighted mean (an additive model, clipped to a
valid range). The overall figures match the memo; groups come out near, not exactly
at, its figures, since the memo's rows are not all consistent with one another.
"""

from dataclasses import dataclass

import numpy as np

J = 4
CONTROL_OVERALL = 2.76
PREVALENCE_OVERALL = 0.56

# (share of the sample, control mean, treatment mean) per group, from the memo's Table 1.
# Three rows do not add up in the memo and are repaired here, keeping the control mean
# and setting the treatment mean so that the difference is the memo's percentage:
# Kazakh (3.20 -> 3.253 for 42.3%), Almaty (3.36 -> 3.08 for 27.0%) and all other
# places (3.36 -> 3.446 for 63.6%). "Other" ethnicity has no row: no deviation.
MEMO_GROUPS = {
    "gender": {"1": (0.450, 2.62, 3.49), "2": (0.550, 2.87, 3.17)},
    "university": {
        "secondary_or_less": (0.486, 2.83, 3.49),
        "university": (0.514, 2.69, 3.07),
    },
    "ethnicity": {
        "kazakh": (0.605, 2.83, 3.253),
        "russian": (0.300, 2.90, 3.54),
        "other": (0.095, CONTROL_OVERALL, CONTROL_OVERALL + PREVALENCE_OVERALL),
    },
    "stratum": {
        "almaty": (0.218, 2.81, 3.08),
        "astana": (0.130, 2.71, 3.00),
        "other": (0.640, 2.81, 3.446),
    },
}
EDUCATION_CODES = {
    "secondary_or_less": (["1", "2", "3", "4"], [0.05, 0.15, 0.40, 0.40]),
    "university": (["5", "6"], [0.2, 0.8]),
}
REFUSED_SHARE = 0.03
DONT_KNOW_SHARE = 0.02


@dataclass
class SimulatedRespondent:
    arm: str
    status: str
    count: int | None
    stratum: str
    answers: dict


def draw_group(rng: np.random.Generator, groups: dict, n: int) -> np.ndarray:
    levels = list(groups)
    shares = np.array([groups[level][0] for level in levels])
    return np.array(levels, dtype=object)[
        rng.choice(len(levels), size=n, p=shares / shares.sum())
    ]


def group_centres(groups: dict) -> tuple[float, float]:
    """Share-weighted mean control count and prevalence over one variable's groups.

    Deviations are taken from these, not from the overall figures, so that every
    variable's deviations average to zero and the sample as a whole keeps the memo's
    overall control mean and prevalence (before clipping).
    """
    shares = np.array([share for share, _c, _t in groups.values()])
    control = np.array([c for _s, c, _t in groups.values()])
    prevalence = np.array([t - c for _s, c, t in groups.values()])
    shares = shares / shares.sum()
    return float(shares @ control), float(shares @ prevalence)


def memo_respondents(rng: np.random.Generator, n: int) -> list[SimulatedRespondent]:
    """``n`` respondents drawn from the memo's assumptions, arms exactly balanced."""
    drawn = {name: draw_group(rng, groups, n) for name, groups in MEMO_GROUPS.items()}
    control_mean = np.full(n, CONTROL_OVERALL)
    prevalence = np.full(n, PREVALENCE_OVERALL)
    for name, groups in MEMO_GROUPS.items():
        centre_control, centre_prevalence = group_centres(groups)
        for level, (_share, control, treatment) in groups.items():
            at = drawn[name] == level
            control_mean[at] += control - centre_control
            prevalence[at] += (treatment - control) - centre_prevalence
    control_mean = np.clip(control_mean, 0.2, J - 0.2)
    prevalence = np.clip(prevalence, 0.02, 0.98)

    # Half the sample in each arm; an odd one out goes to either arm at random.
    treated = rng.permutation(np.arange(n) < n // 2 + rng.integers(0, 2) * (n % 2))
    counts = rng.binomial(J, control_mean / J) + treated * (rng.random(n) < prevalence)
    outcome = rng.random(n)
    ages = rng.integers(18, 76, size=n)

    people = []
    for i in range(n):
        codes, weights = EDUCATION_CODES[drawn["university"][i]]
        status = (
            "refused"
            if outcome[i] < REFUSED_SHARE
            else "dont_know"
            if outcome[i] < REFUSED_SHARE + DONT_KNOW_SHARE
            else "complete"
        )
        people.append(
            SimulatedRespondent(
                arm="treatment" if treated[i] else "control",
                status=status,
                count=int(counts[i]) if status == "complete" else None,
                stratum=str(drawn["stratum"][i]),
                answers={
                    "gender": str(drawn["gender"][i]),
                    "education": str(rng.choice(codes, p=weights)),
                    "ethnicity": str(drawn["ethnicity"][i]),
                    "age": int(ages[i]),
                },
            )
        )
    return people


def resample(rng: np.random.Generator, n_available: int, n: int) -> np.ndarray:
    """Indices of ``n`` records drawn with replacement from ``n_available``."""
    return rng.integers(0, n_available, size=n)
