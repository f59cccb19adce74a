"""Rehearse a planned wave: draw many synthetic waves and analyse each as planned.

The closed forms of `analysis.planning.power` rest on a normal approximation and on
assumptions the analysis does not share exactly (estimated variances, arm sizes that
vary with the allocation, respondents who hide the sensitive item). A rehearsal
checks the plan the long way: it draws waves from the plan's assumptions, allocates
the arms with the project's own allocation engine (`fielding.sequences`), estimates
every planned quantity as the estimate job would, and reports, per quantity, the
bias, the empirical standard error, the mean estimated standard error, the coverage
of the 95% interval and the power.

One synthetic wave
------------------
In each stratum, ``n`` respondents take the slots of an allocation sequence drawn
from the plan's kind, ratio and block sizes. Each respondent's control count is
drawn from the stratum's count distribution (independent items with given
probabilities give their Poisson-binomial distribution, which is the same law as
drawing the items one by one), and the sensitive item with probability
``p + (C / V_C) (y - mean)`` given control count ``y``: prevalence ``p`` and
covariance ``C`` with the count, exactly. A treated respondent reports the control
count plus the sensitive item, except that a share of those who would report J + 1
(the *ceiling deflators*) report J. Respondents carry their stratum's design weight.

Estimates are computed for all draws at once from each stratum's arm sizes, sums and
sums of squares, with the formulas of `analysis.estimators` (difference in means and
its Neyman SE; the weighted, stratified difference in means with its linearization
SE; group differences). The tests check, draw by draw, that they equal what those
estimators give on the same synthetic wave (`synthetic_wave`).

Everything is a pure function of the plan and the seed: no Django, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from analysis.estimators.normal import Z95, plain_float
from analysis.planning.power import (
    Contrast,
    PlanningError,
    SourceWave,
    WavePlan,
    change_precision,
    contrast_precision,
    distribution_moments,
    group_truth,
    moments_distribution,
    overall_precision,
    parse_contrast,
    power_at,
    stratum_precision,
    z_quantile,
)
from fielding.sequences import (
    BLOCKED,
    COMPLETE,
    KINDS,
    MAX_SEED,
    PlanError,
    allocation_sequence,
    plan_from_options,
    stratum_key,
)

#: Respondents times draws simulated at once in a stratum; bounds the memory used.
CELLS = 1_000_000

#: Distinct allocation sequences drawn per stratum at most; draw ``d`` uses sequence
#: ``d mod k``. See `rehearse`, Notes.
SEQUENCES = 20

#: Slots of allocation sequences drawn per stratum at most, so a very large stratum
#: gets fewer distinct sequences rather than minutes of allocation.
SEQUENCE_SLOTS = 100_000

MAX_DRAWS = 100_000

#: Draws and seed when none are asked for: 2,000 draws put the Monte Carlo error of a
#: coverage near 95% at about 0.005.
DEFAULT_DRAWS = 2_000
DEFAULT_SEED = 1

# Keys that give the allocation seeds and the source wave's draws streams of their
# own, apart from every stratum's (whose keys are 64-bit hashes of the codes).
SEQUENCE_STREAM = 1
PREVIOUS_STREAM = 2

#: Report progress to the callback as (done, total) in respondents simulated.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class QuantityResult:
    """How one planned quantity fared over the rehearsal's draws.

    Attributes
    ----------
    label : str
        ``overall``, ``overall (unweighted)``, a stratum's code, a contrast such as
        ``almaty-rest``, or ``change overall`` / ``change <code>``.
    kind : str
        ``overall``, ``stratum``, ``contrast`` or ``change``.
    truth : float
        The value the estimate aims at, from the plan's assumptions.
    mean_estimate, bias : float
        Mean of the estimates, and that minus the truth.
    empirical_se : float
        Standard deviation of the estimates over the draws.
    mean_se : float
        Mean of the estimated standard errors.
    coverage : float
        Share of draws whose 95% interval holds the truth.
    power : float
        Share of draws that reject zero (for a change: no change), two-sided at the
        plan's alpha.
    bias_mc, empirical_se_mc, coverage_mc, power_mc : float
        Monte Carlo standard errors of the four figures above.
    expected_se, expected_power : float or None
        The closed forms' standard error and power at the truth, for comparison.
    expected_se_strata : float or None
        For groups of strata, the closed-form SE combined stratum by stratum.
    draws : int
        Draws that gave an estimate.
    """

    label: str
    kind: str
    truth: float
    mean_estimate: float
    bias: float
    empirical_se: float
    mean_se: float
    coverage: float
    power: float
    bias_mc: float
    empirical_se_mc: float
    coverage_mc: float
    power_mc: float
    expected_se: float | None
    expected_power: float | None
    expected_se_strata: float | None
    draws: int

    def to_dict(self) -> dict:
        out = {"label": self.label, "kind": self.kind}
        for name in (
            "truth",
            "mean_estimate",
            "bias",
            "empirical_se",
            "mean_se",
            "coverage",
            "power",
            "bias_mc",
            "empirical_se_mc",
            "coverage_mc",
            "power_mc",
            "expected_se",
            "expected_power",
            "expected_se_strata",
        ):
            out[name] = plain_float(getattr(self, name))
        out["draws"] = int(self.draws)
        return out


@dataclass(frozen=True)
class Rehearsal:
    """The result of `rehearse`: one `QuantityResult` per quantity, and the draws.

    ``estimates`` and ``ses`` hold each quantity's estimate and estimated standard
    error per draw (NaN where a draw gave none), by label.
    """

    draws: int
    seed: int
    allocation: str
    block_sizes: tuple[int, ...]
    deflators: float
    quantities: list[QuantityResult]
    estimates: dict[str, np.ndarray]
    ses: dict[str, np.ndarray]

    def quantity(self, label: str) -> QuantityResult:
        for q in self.quantities:
            if q.label == label:
                return q
        raise KeyError(label)

    def to_dict(self) -> dict:
        return {
            "draws": self.draws,
            "seed": self.seed,
            "allocation": self.allocation,
            "block_sizes": list(self.block_sizes),
            "deflators": self.deflators,
            "quantities": [q.to_dict() for q in self.quantities],
        }


@dataclass(frozen=True)
class _Stratum:
    """What drawing one stratum needs, worked out once."""

    code: str
    n: int
    cdf: np.ndarray
    sensitive: np.ndarray
    arms: dict[int, np.ndarray]
    sequences: int
    chunk: int
    key: int


@dataclass(frozen=True)
class _Setup:
    plan: WavePlan
    seed: int
    allocation: str
    block_sizes: tuple[int, ...]
    deflators: float
    strata: list[_Stratum]


def rehearse(
    plan: WavePlan,
    *,
    draws: int,
    seed: int,
    allocation: str = BLOCKED,
    block_sizes: Sequence[int] = (),
    contrasts: Sequence[Contrast] = (),
    previous: SourceWave | None = None,
    deflators: float = 0.0,
    sequences: int = SEQUENCES,
    progress: Progress | None = None,
) -> Rehearsal:
    """Draw ``draws`` synthetic waves from ``plan`` and analyse each as planned.

    Parameters
    ----------
    plan : WavePlan
        Every stratum needs a control mean (or a count distribution).
    draws : int
        Synthetic waves to draw, 2 to `MAX_DRAWS`.
    seed : int
        0 <= seed < 2**63. The same plan, options and seed give the same result.
    allocation : {"simple", "complete", "blocked"}
        The allocation plan's kind, with the plan's ratio (a complete plan's chunk is
        the stratum's size).
    block_sizes : sequence of int
        For blocked allocation; twice and three times the ratio's sum when empty
        (4 and 6 for 1:1).
    contrasts : sequence of Contrast
        Differences between strata to estimate in each draw.
    previous : SourceWave, optional
        The source wave, for the change from it (overall and per stratum). Its
        estimate is drawn afresh in each draw, normal around its estimate with its
        standard error, which is also taken as the truth of the source wave.
    deflators : float
        Share of treated respondents who would report J + 1 but report J.
    sequences : int
        Distinct allocation sequences per stratum at most.
    progress : callable, optional
        Called as ``progress(done, total)`` in respondents simulated.

    Returns
    -------
    Rehearsal

    Raises
    ------
    PlanningError
        Naming the input, for bad options or assumptions that cannot be drawn from
        (no control mean, a covariance the prevalence cannot carry).

    Notes
    -----
    Quantities: ``overall`` (the difference in means; with design weights, the
    weighted, stratified difference in means, plus ``overall (unweighted)`` whose
    bias shows what ignoring the weights costs), each stratum when there are
    several, each contrast, and with a source wave each change. The truth of a
    group of strata is its strata's prevalences averaged by population share
    (`analysis.planning.power.group_truth`).

    Draw ``d`` takes allocation sequence ``d mod k`` of each stratum, sequence
    ``i`` made with `fielding.sequences.allocation_sequence` from a seed derived
    from ``seed`` and ``i``. Simulated respondents are drawn independently of their
    place in the sequence, so a sequence matters to the estimates only through the
    arm sizes it gives: ``k`` = `SEQUENCES` sequences (fewer in strata of more than
    `SEQUENCE_SLOTS` / `SEQUENCES` respondents) show the spread of arm sizes a plan
    gives, which is none at all when permuted blocks fill the stratum exactly.

    The weighted estimate is the pooled one of
    `analysis.estimators.weighted.weighted_difference_in_means`, which the estimate
    job uses when the treatment shares of the strata are within its tolerance, as
    they are under one ratio, except by chance in small strata under simple
    allocation.
    """
    _check_draws(draws)
    setup = _prepare(
        plan, range(draws), seed, allocation, block_sizes, deflators, sequences
    )
    if previous is not None and previous.J != plan.J:
        raise PlanningError(
            f"The source wave's list has J = {previous.J}, the plan's J = {plan.J}.",
            field="source",
        )

    total = draws * plan.n
    done = 0
    moments = {}
    for stratum in setup.strata:
        parts = []
        for start in range(0, draws, stratum.chunk):
            stop = min(start + stratum.chunk, draws)
            reported, treated = _draw_rows(setup, stratum, start, stop)
            parts.append(_arm_moments(reported, treated))
            done += (stop - start) * stratum.n
            if progress is not None:
                progress(done, total)
        moments[stratum.code] = np.concatenate(parts, axis=1)

    # Rows: n_T, sum_T, sum of squares_T, n_C, sum_C, sum of squares_C; one column
    # per draw; one block per stratum.
    stacked = np.stack([moments[code] for code in plan.codes], axis=2)
    return _summarise(setup, stacked, contrasts, previous, draws)


def check_rehearsal(
    plan: WavePlan,
    *,
    draws: int,
    seed: int,
    allocation: str = BLOCKED,
    block_sizes: Sequence[int] = (),
    deflators: float = 0.0,
) -> None:
    """Raise the PlanningError `rehearse` would raise for these options, at once.

    Everything is checked but nothing drawn, so a form can refuse bad options
    before a job is saved to run them.
    """
    _check_draws(draws)
    _prepare(plan, (), seed, allocation, block_sizes, deflators, SEQUENCES)


def rehearsal_specification(
    plan: WavePlan,
    *,
    draws: int,
    seed: int,
    allocation: str = BLOCKED,
    block_sizes: Sequence[int] = (),
    contrasts: Sequence[Contrast] = (),
    previous: SourceWave | None = None,
    deflators: float = 0.0,
) -> dict:
    """A rehearsal's inputs as plain values, to store and run later.

    `rehearse_specification` runs it: the plan and the source wave's estimates are
    stored whole, so the rehearsal does not change when the source wave gets more
    responses in the meantime.
    """
    return {
        "plan": plan.to_dict(),
        "draws": draws,
        "seed": seed,
        "allocation": allocation,
        "block_sizes": list(block_sizes),
        "contrasts": [contrast.label for contrast in contrasts],
        "previous": None if previous is None else previous.to_dict(),
        "deflators": deflators,
    }


def rehearse_specification(spec, progress: Progress | None = None) -> Rehearsal:
    """Run the rehearsal `rehearsal_specification` describes.

    Raises
    ------
    PlanningError
        For a specification that is malformed or holds options `rehearse` refuses.
    """
    try:
        plan = WavePlan.from_dict(spec["plan"])
        previous = spec.get("previous")
        return rehearse(
            plan,
            draws=spec["draws"],
            seed=spec["seed"],
            allocation=spec.get("allocation", BLOCKED),
            block_sizes=tuple(spec.get("block_sizes") or ()),
            contrasts=[
                parse_contrast(label, plan.codes) for label in spec.get("contrasts", [])
            ],
            previous=None if previous is None else SourceWave.from_dict(previous),
            deflators=spec.get("deflators", 0.0),
            progress=progress,
        )
    except (KeyError, TypeError) as error:
        raise PlanningError(
            f"The stored rehearsal is malformed ({error}).", field="draws"
        ) from None


def _check_draws(draws) -> None:
    if (
        isinstance(draws, bool)
        or not isinstance(draws, int)
        or not 2 <= draws <= MAX_DRAWS
    ):
        raise PlanningError(
            f"The number of draws must be a whole number from 2 to {MAX_DRAWS:,}; "
            f"got {draws}.",
            field="draws",
        )


def synthetic_wave(
    plan: WavePlan,
    *,
    draw: int,
    seed: int,
    allocation: str = BLOCKED,
    block_sizes: Sequence[int] = (),
    deflators: float = 0.0,
    sequences: int = SEQUENCES,
) -> dict[str, np.ndarray]:
    """The respondents of draw ``draw`` of `rehearse` with the same arguments.

    Returns
    -------
    dict
        ``counts`` (float), ``treated`` (bool), ``strata`` (object) and, with design
        weights, ``weights``: one entry per respondent, stratum after stratum, ready
        for the estimators of `analysis.estimators`.
    """
    if isinstance(draw, bool) or not isinstance(draw, int) or draw < 0:
        raise PlanningError(
            f"A draw is a whole number from 0; got {draw}.", field="draws"
        )
    setup = _prepare(plan, [draw], seed, allocation, block_sizes, deflators, sequences)
    counts, treated, strata, weights = [], [], [], []
    for stratum in setup.strata:
        reported, arms = _draw_rows(setup, stratum, draw, draw + 1)
        counts.append(reported[0].astype(float))
        treated.append(arms[0])
        strata.append(np.full(stratum.n, stratum.code, dtype=object))
        weights.append(np.full(stratum.n, plan.stratum(stratum.code).weight or 1.0))

    wave = {
        "counts": np.concatenate(counts),
        "treated": np.concatenate(treated),
        "strata": np.concatenate(strata),
    }
    if plan.weighted:
        wave["weights"] = np.concatenate(weights)
    return wave


# -- Drawing ------------------------------------------------------------------------


def _prepare(
    plan: WavePlan,
    draws: Iterable[int],
    seed: int,
    allocation: str,
    block_sizes: Sequence[int],
    deflators: float,
    sequences: int,
) -> _Setup:
    """Check the options and work out each stratum's distributions and sequences.

    Only the allocation sequences that ``draws`` use are made.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < MAX_SEED:
        raise PlanningError(
            f"The seed must be a whole number from 0 to 2**63 - 1; got {seed}.",
            field="seed",
        )
    if not isinstance(deflators, int | float) or not 0 <= deflators <= 1:
        raise PlanningError(
            f"The share of ceiling deflators lies between 0 and 1; got {deflators}.",
            field="deflators",
        )
    if allocation not in KINDS:
        raise PlanningError(
            f"Unknown allocation {allocation!r}; choose {', '.join(KINDS)}.",
            field="allocation",
        )
    if not isinstance(sequences, int) or sequences < 1:
        raise PlanningError(
            f"At least one allocation sequence is needed; got {sequences}.",
            field="allocation",
        )

    treatment, control = plan.ratio
    if allocation == BLOCKED and not block_sizes:
        block_sizes = (2 * (treatment + control), 3 * (treatment + control))
    block_sizes = tuple(block_sizes) if allocation == BLOCKED else ()

    strata = []
    for s in plan.strata:
        try:
            sequence_plan = plan_from_options(
                allocation,
                ratio=f"{treatment}:{control}",
                block_sizes=block_sizes,
                chunk=s.n if allocation == COMPLETE else None,
            )
        except PlanError as error:
            raise PlanningError(str(error), field="allocation") from None

        k = max(1, min(sequences, SEQUENCE_SLOTS // s.n))
        arms = {}
        for i in sorted({d % k for d in draws}):
            slots = allocation_sequence(
                _sequence_seed(seed, i), s.code, sequence_plan, s.n
            )
            arms[i] = np.array([slot.arm == "treatment" for slot in slots])

        dist = _count_distribution(plan, s)
        strata.append(
            _Stratum(
                code=s.code,
                n=s.n,
                cdf=np.cumsum(dist)[:-1],
                sensitive=_sensitive_probabilities(plan.J, s, dist),
                arms=arms,
                sequences=k,
                chunk=max(1, CELLS // s.n),
                key=stratum_key(s.code),
            )
        )

    return _Setup(
        plan=plan,
        seed=seed,
        allocation=allocation,
        block_sizes=block_sizes,
        deflators=float(deflators),
        strata=strata,
    )


def _sequence_seed(seed: int, i: int) -> int:
    state = np.random.SeedSequence(seed, spawn_key=(SEQUENCE_STREAM, i))
    return int(state.generate_state(1, np.uint64)[0]) >> 1


def _count_distribution(plan: WavePlan, s) -> np.ndarray:
    if s.count_distribution is not None:
        return np.asarray(s.count_distribution, dtype=float)
    if s.control_mean is None:
        raise PlanningError(
            f"Stratum {s.code!r}: drawing synthetic waves needs the control list's "
            "mean (or its item probabilities, or a source wave).",
            field="control_mean",
            stratum=s.code,
        )
    return moments_distribution(plan.J, s.control_mean, s.control_var)


def _sensitive_probabilities(J: int, s, dist: np.ndarray) -> np.ndarray:
    """P(sensitive item | control count y) for y = 0..J: ``p + (C / V) (y - mean)``.

    Its mean over the count distribution is ``p`` and its covariance with the count
    ``C``, exactly; it must stay within [0, 1] wherever a count can occur.
    """
    mean, variance = distribution_moments(dist)
    if s.covariance == 0:
        return np.full(J + 1, s.prevalence)
    if variance <= 0:
        raise PlanningError(
            f"Stratum {s.code!r}: a control count that never varies cannot covary "
            "with the sensitive item.",
            field="covariance",
            stratum=s.code,
        )

    probabilities = s.prevalence + s.covariance / variance * (np.arange(J + 1) - mean)
    possible = dist > 0
    if (probabilities[possible] < -1e-12).any() or (
        probabilities[possible] > 1 + 1e-12
    ).any():
        raise PlanningError(
            f"Stratum {s.code!r}: with a prevalence of {s.prevalence:g} a covariance "
            f"of {s.covariance:g} would need the sensitive item's probability outside "
            "0..1 at some control counts; choose a smaller covariance.",
            field="covariance",
            stratum=s.code,
        )
    return np.clip(probabilities, 0.0, 1.0)


def _draw_rows(
    setup: _Setup, stratum: _Stratum, start: int, stop: int
) -> tuple[np.ndarray, np.ndarray]:
    """Reported counts and arms of draws ``start .. stop - 1`` in one stratum.

    The draws must lie in one chunk of the stratum. Each chunk has two streams of
    its own, one for the control counts and one for the sensitive item, filled row
    by row with one 64-bit word per uniform; a draw's respondents therefore depend
    on neither how many draws are asked for nor which are drawn with it, and a
    single draw is reached by advancing the streams past the rows before it.
    """
    index, offset = divmod(start, stratum.chunk)
    if stop > (index + 1) * stratum.chunk:
        raise ValueError("The draws must lie within one chunk.")
    shape = (stop - start, stratum.n)

    uniforms = []
    for part in (0, 1):
        key = np.random.SeedSequence(setup.seed, spawn_key=(stratum.key, index, part))
        bits = np.random.PCG64(key)
        bits.advance(offset * stratum.n)
        uniforms.append(np.random.Generator(bits).random(shape))
    count = np.searchsorted(stratum.cdf, uniforms[0], side="right")
    u = uniforms[1]

    k = stratum.sequences
    treated = np.stack([stratum.arms[d % k] for d in range(start, stop)])
    chance = stratum.sensitive[count]
    holds = treated & (u < chance)

    # Given that the item is held (u < chance), u / chance is uniform on [0, 1) and
    # independent of everything else, so the same u decides the deflators.
    deflated = holds & (count == setup.plan.J) & (u < setup.deflators * chance)
    reported = count + holds - deflated
    return reported, treated


def _arm_moments(reported: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """Per draw: n, sum and sum of squares of each arm (treatment first), as rows."""
    y = reported.astype(np.int64)
    n_t = treated.sum(axis=1)
    sum_all, square_all = y.sum(axis=1), (y * y).sum(axis=1)
    sum_t = (y * treated).sum(axis=1)
    square_t = (y * y * treated).sum(axis=1)
    n_c = treated.shape[1] - n_t
    return np.array(
        [n_t, sum_t, square_t, n_c, sum_all - sum_t, square_all - square_t], dtype=float
    )


# -- Estimating from each stratum's moments -----------------------------------------


def _pooled(m: np.ndarray, columns: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Difference in means over some strata pooled, and its Neyman SE, per draw.

    As `analysis.estimators.difference.difference_in_means` on those respondents:
    arm means, and variances with n - 1.
    """
    s = m[:, :, columns].sum(axis=2)
    n_t, sum_t, square_t, n_c, sum_c, square_c = s
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_t, mean_c = sum_t / n_t, sum_c / n_c
        var_t = np.maximum(square_t - sum_t * mean_t, 0.0) / (n_t - 1)
        var_c = np.maximum(square_c - sum_c * mean_c, 0.0) / (n_c - 1)
        estimate = mean_t - mean_c
        se = np.sqrt(var_t / n_t + var_c / n_c)
    short = (n_t < 2) | (n_c < 2)
    estimate[short], se[short] = np.nan, np.nan
    return estimate, se


def _weighted(
    m: np.ndarray, columns: list[int], weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted, stratified difference in means over some strata, and its SE.

    As `analysis.estimators.weighted.weighted_difference_in_means` with strata and
    each respondent its own PSU: Hajek means per arm, and the linearization variance
    from influence values ``+- w_i (y_i - ybar_a) / W_a`` centred within strata,
    ``sum_h n_h / (n_h - 1) (sum_h z^2 - (sum_h z)^2 / n_h)``. Each stratum's sums
    of ``z`` and ``z^2`` follow from its arms' sizes, sums and sums of squares.
    """
    sub = m[:, :, columns]
    w = weights[columns]
    n_t, sum_t, square_t, n_c, sum_c, square_c = sub
    total_t, total_c = (n_t * w).sum(axis=1), (n_c * w).sum(axis=1)
    mean_t = (sum_t * w).sum(axis=1) / total_t
    mean_c = (sum_c * w).sum(axis=1) / total_c

    mt, mc = mean_t[:, None], mean_c[:, None]
    deviations_t = square_t - 2 * mt * sum_t + n_t * mt * mt
    deviations_c = square_c - 2 * mc * sum_c + n_c * mc * mc
    wt, wc = w / total_t[:, None], w / total_c[:, None]
    sum_z2 = wt * wt * deviations_t + wc * wc * deviations_c
    sum_z = wt * (sum_t - n_t * mt) - wc * (sum_c - n_c * mc)

    n = n_t + n_c
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (n / (n - 1) * (sum_z2 - sum_z * sum_z / n)).sum(axis=1)
        se = np.sqrt(np.maximum(variance, 0.0))
    estimate = mean_t - mean_c
    short = (n_t.sum(axis=1) < 2) | (n_c.sum(axis=1) < 2)
    estimate[short], se[short] = np.nan, np.nan
    return estimate, se


def _summarise(
    setup: _Setup,
    m: np.ndarray,
    contrasts: Sequence[Contrast],
    previous: SourceWave | None,
    draws: int,
) -> Rehearsal:
    plan = setup.plan
    codes = plan.codes
    index = {code: i for i, code in enumerate(codes)}
    weights = np.array([s.weight or 1.0 for s in plan.strata])

    def group(columns_codes: Sequence[str]):
        columns = [index[c] for c in columns_codes]
        if plan.weighted:
            return _weighted(m, columns, weights)
        return _pooled(m, columns)

    rows = []  # (label, kind, truth, estimate, se, precision)
    overall = overall_precision(plan)
    truth = group_truth(plan, codes)
    estimate, se = group(codes)
    rows.append(("overall", "overall", truth, estimate, se, overall))
    if plan.weighted:
        estimate_u, se_u = _pooled(m, list(range(len(codes))))
        rows.append(("overall (unweighted)", "overall", truth, estimate_u, se_u, None))

    # With one stratum its estimate is the overall one; it is not listed twice.
    for code in codes if len(codes) > 1 else ():
        s = plan.stratum(code)
        estimate_h, se_h = _pooled(m, [index[code]])
        rows.append(
            (
                code,
                "stratum",
                s.prevalence,
                estimate_h,
                se_h,
                stratum_precision(plan, code),
            )
        )

    for contrast in contrasts:
        estimate_a, se_a = group(contrast.a)
        estimate_b, se_b = group(contrast.b)
        rows.append(
            (
                contrast.label,
                "contrast",
                group_truth(plan, contrast.a) - group_truth(plan, contrast.b),
                estimate_a - estimate_b,
                np.sqrt(se_a**2 + se_b**2),
                contrast_precision(plan, contrast),
            )
        )

    if previous is not None:
        rows += _changes(setup, rows, previous, draws)

    z = z_quantile(1 - plan.alpha / 2)
    quantities = [
        _quantity(label, kind, truth, estimate, se, precision, z, plan.alpha)
        for label, kind, truth, estimate, se, precision in rows
    ]
    return Rehearsal(
        draws=draws,
        seed=setup.seed,
        allocation=setup.allocation,
        block_sizes=setup.block_sizes,
        deflators=setup.deflators,
        quantities=quantities,
        estimates={row[0]: row[3] for row in rows},
        ses={row[0]: row[4] for row in rows},
    )


def _changes(setup: _Setup, rows: list, previous: SourceWave, draws: int) -> list:
    """Each change from the source wave: new estimate minus a fresh draw of the old.

    The source wave's estimate is drawn normal around its estimate with its SE, the
    SE taken as known; the change's SE is ``sqrt(se_new^2 + se_old^2)``.
    """
    olds = [("overall", previous.estimate, previous.se)]
    olds += [(code, s.estimate, s.se) for code, s in previous.strata.items()]
    by_label = {row[0]: row for row in rows if row[1] in ("overall", "stratum")}
    rng = np.random.Generator(
        np.random.PCG64(
            np.random.SeedSequence(setup.seed, spawn_key=(PREVIOUS_STREAM,))
        )
    )
    noise = rng.standard_normal((len(olds), draws))

    changes = []
    for (label, old_estimate, old_se), z in zip(olds, noise):
        if label not in by_label:
            continue
        _label, _kind, truth, estimate, se, precision = by_label[label]
        changes.append(
            (
                f"change {label}",
                "change",
                truth - old_estimate,
                estimate - (old_estimate + old_se * z),
                np.sqrt(se**2 + old_se**2),
                change_precision(setup.plan, precision, old_estimate, old_se),
            )
        )
    return changes


def _quantity(label, kind, truth, estimate, se, precision, z, alpha) -> QuantityResult:
    usable = np.isfinite(estimate) & np.isfinite(se)
    estimate, se = estimate[usable], se[usable]
    d = int(estimate.size)
    if d < 2:
        nan = math.nan
        return QuantityResult(
            label, kind, truth, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan,
            None, None, None, d,
        )  # fmt: skip

    mean = float(estimate.mean())
    spread = float(estimate.std(ddof=1))
    covered = float(np.mean(np.abs(estimate - truth) <= Z95 * se))
    rejected = float(np.mean(np.abs(estimate) > z * se))

    expected_power = None
    if precision is not None:
        expected_power = power_at(truth, precision.se, alpha=alpha)
    return QuantityResult(
        label=label,
        kind=kind,
        truth=float(truth),
        mean_estimate=mean,
        bias=mean - float(truth),
        empirical_se=spread,
        mean_se=float(se.mean()),
        coverage=covered,
        power=rejected,
        bias_mc=spread / math.sqrt(d),
        empirical_se_mc=spread / math.sqrt(2 * (d - 1)),
        coverage_mc=math.sqrt(covered * (1 - covered) / d),
        power_mc=math.sqrt(rejected * (1 - rejected) / d),
        expected_se=None if precision is None else precision.se,
        expected_power=expected_power,
        expected_se_strata=None if precision is None else precision.se_strata,
        draws=d,
    )
