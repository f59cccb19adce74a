"""Splitting counts into the two arms, with the checks every estimator needs."""

from __future__ import annotations

import numpy as np


def split_arms(counts, treated, J) -> tuple[np.ndarray, np.ndarray, int]:
    """Return control counts, treatment counts and the number of missing counts.

    Raises ValueError, with a plain sentence, for a bad J, arrays of different
    shapes, an arm value other than 0/1, or a count impossible on its list.
    """
    if isinstance(J, bool) or not float(J).is_integer() or J < 1:
        raise ValueError(
            f"J is the number of control items, a whole number >= 1; got {J}."
        )
    J = int(J)

    counts = np.asarray(counts, dtype=float)
    treated = np.asarray(treated)
    if counts.ndim != 1 or treated.shape != counts.shape:
        raise ValueError(
            "counts and treated must be one-dimensional and of the same length; "
            f"got shapes {counts.shape} and {treated.shape}."
        )
    if treated.dtype != bool:
        if not ((treated == 0) | (treated == 1)).all():
            raise ValueError(
                "treated must hold only True/False or 1/0; a respondent without an "
                "arm cannot be used."
            )
        treated = treated.astype(bool)

    answered = ~np.isnan(counts)
    arms = {}
    for name, in_arm, top in (("control", ~treated, J), ("treatment", treated, J + 1)):
        arm = counts[answered & in_arm]
        bad = (arm != np.round(arm)) | (arm < 0) | (arm > top)
        if bad.any():
            raise ValueError(
                f"A count of {arm[bad][0]:g} in the {name} arm is impossible with "
                f"J = {J}: counts there are whole numbers from 0 to {top}."
            )
        arms[name] = arm.astype(int)

    n_missing = int(counts.size - np.count_nonzero(answered))
    return arms["control"], arms["treatment"], n_missing
