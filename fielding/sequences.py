"""Allocation sequences: from a seed and a plan, the arm of every slot in a stratum.

A list experiment's allocation table is filed before fieldwork starts, so anyone
holding the seed and the plan must be able to rebuild it, slot for slot, years later
and on another machine. Everything here is therefore a pure function of the seed, the
stratum's code, the plan and the number of slots: numpy only, no Django, no I/O.

The stream
----------
Each stratum draws from its own stream, derived from the seed and the stratum's
*code* (never its position in a list, so adding or reordering strata changes nothing)::

    key = int.from_bytes(sha256(code.encode("utf-8")).digest()[:8], "big")
    bits = PCG64(SeedSequence(entropy=seed, spawn_key=(key,)))

Only ``bits.random_raw()`` is used: numpy promises that a bit generator's raw output
stays the same across releases, but not what ``Generator`` methods make of it. Every
draw is built here from those 64-bit words, taken one at a time in stream order:

* a uniform double in [0, 1) is ``(word >> 11) * 2**-53`` (one word);
* an integer below ``k`` rejects a word ``>= 2**64 - (2**64 % k)`` and returns
  ``word % k`` for the first word kept (one word, except with probability under
  ``k / 2**64``, when it takes more);
* a shuffle of ``m`` items is Fisher-Yates from the end: for ``i`` from ``m - 1``
  down to 1, swap item ``i`` with item ``j``, an integer below ``i + 1``.

Words are fetched from the bit generator in batches for speed, but the batch size
does not change which word serves which draw.

The plans
---------
``simple``
    One word per slot, in slot order: its uniform double ``u`` gives the second arm
    (the treatment) when ``u < p``, or, without ``p``, arm ``i`` when ``u`` falls in
    the ``i``-th interval of the cumulative shares ``ratio / sum(ratio)``.
``complete``
    The slots are cut into chunks of ``chunk``. Within each chunk every arm gets
    ``floor(chunk * share / total)`` slots; the spare slots go one each to arms drawn
    with probability equal to the fraction each floor left behind (one integer draw
    below ``total``, see :func:`chunk_counts`), and the chunk is shuffled.
``blocked``
    Permuted blocks: each block's size is the only size given, or one drawn from the
    distinct sizes in increasing order with an integer draw; the block holds
    ``size / total`` copies of every share unit, in arm order, and is shuffled.

Chunks and blocks are always made whole before the sequence is cut to length, so the
first ``m`` slots are the same whatever ``n >= m`` is asked for: a wave can extend its
sequence as fieldwork goes on.
"""

import csv
import hashlib
import io
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

SIMPLE, COMPLETE, BLOCKED = "simple", "complete", "blocked"
KINDS = (SIMPLE, COMPLETE, BLOCKED)
DEFAULT_ARMS = ("control", "treatment")
TABLE_COLUMNS = ("stratum", "position", "block", "arm")
MAX_SEED = 2**63
TWO_64 = 2**64
BATCH = 4096
# Blocks exist to keep arms balanced as fieldwork goes; beyond this size they do not,
# and a typo (a million) would make the sequence exhaust memory.
MAX_BLOCK_SIZE = 1000
MAX_CHUNK = 1_000_000


class PlanError(ValueError):
    """A plan, seed or stratum that cannot give an allocation sequence as given."""


@dataclass(frozen=True)
class Plan:
    """How arms are allocated within a stratum.

    Parameters
    ----------
    kind : {"simple", "complete", "blocked"}
        Independent draws, exact shares per chunk, or permuted blocks.
    arms : tuple of str
        The arms' names, in the order the ratio's shares follow.
    ratio : tuple of int
        Positive whole shares, one per arm.
    p : float, optional
        Simple plans with two arms only: the probability of the second arm (the
        treatment). When given it replaces the ratio.
    block_sizes : tuple of int
        Blocked plans only. One size fixes every block; several let each block's
        size be drawn uniformly from the distinct sizes. Each must be a positive
        multiple of ``sum(ratio)`` so a block can hold the ratio exactly.
    chunk : int, optional
        Complete plans only: the number of slots over which the shares are exact.
    """

    kind: str
    arms: tuple[str, ...] = DEFAULT_ARMS
    ratio: tuple[int, ...] = (1, 1)
    p: float | None = None
    block_sizes: tuple[int, ...] = ()
    chunk: int | None = None

    def __post_init__(self):
        # Tuples keep a plan hashable even when a caller passes lists.
        for name in ("arms", "ratio", "block_sizes"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        self.validate()

    def validate(self) -> None:
        """Raise PlanError, with what to change, for a plan that cannot be drawn."""
        if self.kind not in KINDS:
            raise PlanError(
                f"Unknown plan {self.kind!r}; choose simple, complete or blocked."
            )

        self.validate_arms()
        self.validate_ratio()
        if self.p is not None:
            self.validate_p()

        if self.kind == BLOCKED:
            self.validate_block_sizes()
        elif self.block_sizes:
            raise PlanError("Block sizes apply only to the blocked plan.")

        if self.kind == COMPLETE:
            if is_whole(self.chunk) and self.chunk > MAX_CHUNK:
                raise PlanError(
                    f"A complete plan's chunk is at most {MAX_CHUNK} slots."
                )
            if not is_whole(self.chunk) or self.chunk < 1:
                raise PlanError(
                    "The complete plan needs a chunk of at least 1 slot, the number "
                    "of slots over which the shares are exact."
                )
        elif self.chunk is not None:
            raise PlanError("A chunk applies only to the complete plan.")

    def validate_arms(self) -> None:
        if len(self.arms) < 2:
            raise PlanError(f"A plan needs at least two arms; got {len(self.arms)}.")

        for arm in self.arms:
            if not isinstance(arm, str) or not arm.strip():
                raise PlanError("Every arm needs a name; an arm name cannot be empty.")

        seen = set()
        for arm in self.arms:
            if arm in seen:
                raise PlanError(
                    f"Arm {arm!r} is listed twice; each arm needs its own name."
                )
            seen.add(arm)

    def validate_ratio(self) -> None:
        if len(self.ratio) != len(self.arms):
            raise PlanError(
                f"The ratio {ratio_text(self.ratio)} has {len(self.ratio)} shares but "
                f"there are {len(self.arms)} arms ({', '.join(self.arms)}); give one "
                "share per arm."
            )
        if not all(is_whole(share) and share >= 1 for share in self.ratio):
            raise PlanError(
                "Every share of the ratio must be a whole number of at least 1; "
                f"got {ratio_text(self.ratio)}."
            )

    def validate_p(self) -> None:
        if self.kind != SIMPLE:
            raise PlanError(
                f"p applies only to the simple plan; the {self.kind} plan follows "
                "the ratio."
            )
        if len(self.arms) != 2:
            raise PlanError(
                f"p applies only with two arms; with {len(self.arms)} arms give a "
                "ratio instead."
            )
        if not isinstance(self.p, int | float) or not 0 < self.p < 1:
            raise PlanError(
                "p, the probability of the treatment, must lie strictly between "
                f"0 and 1; got {self.p}."
            )

    def validate_block_sizes(self) -> None:
        if not self.block_sizes:
            raise PlanError(
                "The blocked plan needs at least one block size, such as 4 or 4,6."
            )

        total = sum(self.ratio)
        for size in self.block_sizes:
            if not is_whole(size) or size < 1:
                raise PlanError(f"Block size {size} must be a whole number above 0.")
            if size > MAX_BLOCK_SIZE:
                raise PlanError(
                    f"Block size {size} is larger than {MAX_BLOCK_SIZE}; blocks that "
                    "large no longer balance arms within a stratum."
                )
            if size % total:
                raise PlanError(
                    f"Block size {size} is not a multiple of {total}, the sum of the "
                    f"ratio {ratio_text(self.ratio)} ({':'.join(self.arms)})."
                )


@dataclass(frozen=True, slots=True)
class Slot:
    """One place in a stratum's sequence: the ``position``-th respondent's arm.

    ``position`` and ``block`` count from 1 within the stratum. ``block`` is the
    permuted block for blocked plans, the chunk for complete plans and 1 throughout
    for simple plans.
    """

    position: int
    block: int
    arm: str


class RawStream:
    """The 64-bit words of one bit generator, handed out strictly in stream order.

    Words are fetched ``batch`` at a time (or more when a caller asks for more at
    once), which saves a call into numpy per word without changing which word any
    draw receives.
    """

    def __init__(self, bit_generator, batch: int = BATCH):
        self.bit_generator = bit_generator
        self.batch = batch
        self.buffer: list[int] = []
        self.next = 0

    def refill(self, at_least: int) -> None:
        fresh = self.bit_generator.random_raw(max(at_least, self.batch)).tolist()
        self.buffer = self.buffer[self.next :] + fresh
        self.next = 0

    def word(self) -> int:
        """The next word, as a Python int in [0, 2**64)."""
        if self.next == len(self.buffer):
            self.refill(1)
        word = self.buffer[self.next]
        self.next += 1
        return word

    def words(self, count: int) -> list[int]:
        """The next ``count`` words, in order."""
        missing = count - (len(self.buffer) - self.next)
        if missing > 0:
            self.refill(missing)

        out = self.buffer[self.next : self.next + count]
        self.next += count
        return out

    def uniform(self, count: int) -> np.ndarray:
        """``count`` doubles in [0, 1), one word each, from the top 53 bits."""
        words = np.array(self.words(count), dtype=np.uint64)
        return (words >> np.uint64(11)).astype(np.float64) * 2.0**-53

    def below(self, k: int) -> int:
        """An integer drawn uniformly from 0 .. k - 1, exactly, by rejection.

        ``word % k`` alone would favour small values whenever ``k`` does not divide
        2**64; rejecting the words at or above the largest multiple of ``k`` that
        fits removes that bias. Python ints keep the arithmetic exact.
        """
        if k < 1:
            raise ValueError(f"Cannot draw an integer below {k}.")

        limit = TWO_64 - TWO_64 % k
        while True:
            word = self.word()
            if word < limit:
                return word % k

    def shuffle(self, items: list) -> None:
        """Shuffle ``items`` in place: Fisher-Yates from the last item down."""
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]


def is_whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def ratio_text(ratio: Sequence[int]) -> str:
    return ":".join(str(share) for share in ratio)


def parse_ratio(text: str) -> tuple[int, ...]:
    """Shares from text such as ``"2:1"``; PlanError for anything else."""
    parts = [part.strip() for part in str(text).split(":")]
    if len(parts) < 2 or not all(part.isascii() and part.isdigit() for part in parts):
        raise PlanError(
            f"The ratio {text!r} is not whole numbers separated by colons, such as "
            "1:1 or 2:1."
        )
    return tuple(int(part) for part in parts)


def parse_block_sizes(texts: Iterable[str]) -> tuple[int, ...]:
    """Block sizes from text such as ``["4", "6"]``; PlanError for a non-number."""
    sizes = []
    for text in texts:
        if not (text.isascii() and text.isdigit()):
            raise PlanError(f"Block size {text!r} is not a whole number, such as 4.")
        sizes.append(int(text))
    return tuple(sizes)


def plan_from_options(
    kind: str,
    *,
    ratio: str | None = None,
    arms: Sequence[str] = (),
    p: float | None = None,
    block_sizes: Sequence[int] = (),
    chunk: int | None = None,
) -> Plan:
    """A plan from the values a user typed on a command line or in a form.

    Parameters
    ----------
    kind : str
        ``simple``, ``complete`` or ``blocked``.
    ratio : str, optional
        Shares such as ``"2:1"``; equal shares when empty.
    arms : sequence of str
        The arms' names; ``control`` and ``treatment`` when empty.
    p, block_sizes, chunk
        As in :class:`Plan`.

    Returns
    -------
    Plan

    Notes
    -----
    Without arms the ratio reads **treatment:control**, the way people say "two to
    one in favour of treatment": ``"2:1"`` gives two treatment slots for every
    control slot, stored as ``ratio=(1, 2)`` in the arm order (control, treatment).
    With arms the shares follow the arms in the order given, so ``arms=("control",
    "treatment")`` with ``"2:1"`` means two *control* slots for each treatment slot.
    """
    if arms:
        arms = tuple(arms)
        shares = parse_ratio(ratio) if ratio else (1,) * len(arms)
    else:
        arms = DEFAULT_ARMS
        shares = parse_ratio(ratio) if ratio else (1, 1)
        if len(shares) != 2:
            raise PlanError(
                f"The ratio {ratio} has {len(shares)} shares; without named arms it "
                "is treatment:control, so name the arms to give more shares."
            )
        shares = shares[::-1]

    return Plan(
        kind=kind,
        arms=arms,
        ratio=shares,
        p=p,
        block_sizes=tuple(block_sizes),
        chunk=chunk,
    )


def stratum_key(stratum: str) -> int:
    """A stable integer from the stratum's code: the first 8 bytes of its SHA-256."""
    return int.from_bytes(hashlib.sha256(stratum.encode("utf-8")).digest()[:8], "big")


def stratum_stream(seed: int, stratum: str) -> RawStream:
    """The stream of one stratum, from the seed and the stratum's code alone."""
    try:
        seed = operator.index(seed)
    except TypeError:
        raise PlanError(f"The seed must be a whole number; got {seed!r}.") from None
    if not 0 <= seed < MAX_SEED:
        raise PlanError(
            f"The seed must lie between 0 and 2**63 - 1 ({MAX_SEED - 1}); got {seed}."
        )
    if not isinstance(stratum, str) or not stratum:
        raise PlanError("Every stratum needs a code; a stratum code cannot be empty.")

    sequence = np.random.SeedSequence(entropy=seed, spawn_key=(stratum_key(stratum),))
    return RawStream(np.random.PCG64(sequence))


def chunk_counts(stream: RawStream, ratio: Sequence[int], chunk: int) -> list[int]:
    """How many slots of a chunk each arm gets: its floor share plus perhaps one.

    Notes
    -----
    Arm ``i``'s exact share is ``chunk * ratio[i] / total``. Each arm first gets the
    floor; the fractions left over add up to the number of spare slots. Handing the
    spare slots to arms with equal chances would pull unequal ratios towards equal
    shares (2:1 over 4 slots would give treatment 2.5 on average, not 2.67), so each
    arm instead gets one spare slot with probability equal to its own fraction:
    systematic sampling on the residues ``chunk * ratio[i] % total``, laid end to end,
    with points at ``start, start + total, ...`` for one integer ``start`` below
    ``total``. No arm gets more than one spare slot, and every arm's expected count
    is exactly its share. No word is used when nothing is spare.
    """
    total = sum(ratio)
    counts = [chunk * share // total for share in ratio]
    spare = chunk - sum(counts)
    if spare == 0:
        return counts

    start = stream.below(total)
    lower = 0
    for i, share in enumerate(ratio):
        upper = lower + chunk * share % total

        # Points start + m * total that fall in [lower, upper): ceil differences.
        counts[i] += (start - lower) // total - (start - upper) // total
        lower = upper
    return counts


def simple_sequence(stream: RawStream, plan: Plan, n: int) -> list[Slot]:
    u = stream.uniform(n)
    if plan.p is not None:
        chosen = (u < plan.p).astype(np.intp)
    else:
        bounds = np.cumsum(plan.ratio) / sum(plan.ratio)
        chosen = np.searchsorted(bounds, u, side="right")

    arms = np.array(plan.arms, dtype=object)[chosen].tolist()
    return [Slot(position, 1, arm) for position, arm in enumerate(arms, start=1)]


def block_contents(stream: RawStream, plan: Plan, sizes: list[int]) -> list[str]:
    """The arms of the next block or chunk, in arm order, before the shuffle."""
    if plan.kind == COMPLETE:
        counts = chunk_counts(stream, plan.ratio, plan.chunk)
    else:
        size = sizes[0] if len(sizes) == 1 else sizes[stream.below(len(sizes))]
        counts = [share * size // sum(plan.ratio) for share in plan.ratio]
    return [arm for arm, count in zip(plan.arms, counts) for _ in range(count)]


def blocks_sequence(stream: RawStream, plan: Plan, n: int) -> list[Slot]:
    sizes = sorted(set(plan.block_sizes))
    slots: list[Slot] = []
    block = 0

    # Whole blocks only, cut afterwards, so that the sequence is prefix-stable.
    while len(slots) < n:
        block += 1
        arms = block_contents(stream, plan, sizes)
        stream.shuffle(arms)
        first = len(slots) + 1
        slots.extend(
            Slot(position, block, arm) for position, arm in enumerate(arms, first)
        )
    return slots[:n]


def allocation_sequence(seed: int, stratum: str, plan: Plan, n: int) -> list[Slot]:
    """The first ``n`` slots of a stratum's allocation sequence.

    Parameters
    ----------
    seed : int
        0 <= seed < 2**63, filed with the plan before fieldwork.
    stratum : str
        The stratum's code; its stream depends on the code, not on other strata.
    plan : Plan
    n : int
        Number of slots, 0 or more.

    Returns
    -------
    list of Slot
        Positions 1 .. n. The first ``m`` slots are the same for every ``n >= m``.

    Notes
    -----
    How the stream is drawn is set out in the module docstring; changing any of it
    changes every table filed before, so it must not change.
    """
    stream = stratum_stream(seed, stratum)
    plan.validate()
    if not is_whole(n) or n < 0:
        raise PlanError(
            f"The number of slots must be a whole number, 0 or more; got {n}."
        )
    if n == 0:
        return []

    if plan.kind == SIMPLE:
        return simple_sequence(stream, plan, n)
    return blocks_sequence(stream, plan, n)


def allocation_table(
    seed: int, strata: Sequence[str], plan: Plan, n: int
) -> list[tuple[str, Slot]]:
    """Every stratum's first ``n`` slots, stratum by stratum in the order given."""
    if len(set(strata)) != len(strata):
        raise PlanError("A stratum is listed twice; list each stratum once.")
    if not strata:
        raise PlanError("An allocation table needs at least one stratum.")

    return [
        (stratum, slot)
        for stratum in strata
        for slot in allocation_sequence(seed, stratum, plan, n)
    ]


def table_rows(strata_slots: Iterable[tuple[str, Slot]]) -> list[dict]:
    """The table as rows with the keys of ``TABLE_COLUMNS``, ready for CSV or JSON."""
    return [
        {
            "stratum": stratum,
            "position": slot.position,
            "block": slot.block,
            "arm": slot.arm,
        }
        for stratum, slot in strata_slots
    ]


def item_orders(seed: int, key: str, orders: Sequence[Sequence[str]]) -> list[list]:
    """Each slot's items in a random order, for waves that shuffle the list's items.

    Parameters
    ----------
    seed : int
        The wave's seed.
    key : str
        A code for the stream, distinct from every stratum's code (for instance the
        stratum's code followed by ``#items``) so the orders do not reuse the words
        that drew the arms.
    orders : sequence of sequence of str
        Each slot's items in their default order, slot by slot. A double list
        passes each slot's two lists one after the other (first list, second
        list, next slot's first list, ...), so both come from the same stream.

    Returns
    -------
    list of list of str
        The same items per slot, each list shuffled with the Fisher-Yates shuffle
        of the module docstring, slot after slot from one stream. A slot's order
        depends only on the slots before it, so the orders are prefix-stable like the
        sequence itself.
    """
    stream = stratum_stream(seed, key)
    shuffled = []
    for order in orders:
        items = list(order)
        stream.shuffle(items)
        shuffled.append(items)
    return shuffled


def table_csv(rows: list[dict]) -> str:
    """The rows of :func:`table_rows` as CSV text with a header line."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=TABLE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
