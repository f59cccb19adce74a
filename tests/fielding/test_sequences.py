"""The allocation engine: pinned streams, exact shares, prefix stability, no bias."""

import hashlib
from collections import Counter
from itertools import groupby

import numpy as np
import pytest

from fielding.sequences import (
    Plan,
    PlanError,
    RawStream,
    Slot,
    allocation_sequence,
    allocation_table,
    chunk_counts,
    item_orders,
    parse_block_sizes,
    parse_ratio,
    plan_from_options,
    stratum_key,
    stratum_stream,
    table_rows,
)

SEED = 20240611
SHORT = {"control": "C", "treatment": "T"}


def letters(seed: int, stratum: str, plan: Plan, n: int) -> str:
    """The arms as one letter each (C, T), to pin and compare sequences at a glance."""
    return "".join(
        SHORT[slot.arm] for slot in allocation_sequence(seed, stratum, plan, n)
    )


def blocks(slots: list[Slot]) -> list[list[str]]:
    return [
        [slot.arm for slot in group]
        for _block, group in groupby(slots, key=lambda s: s.block)
    ]


class FakeBits:
    """Stands in for a bit generator, giving chosen words, to reach rare branches."""

    def __init__(self, words):
        self.words = list(words)

    def random_raw(self, size):
        out, self.words = self.words[:size], self.words[size:]
        return np.array(out, dtype=np.uint64)


# These literals pin the stream itself: a table filed before fieldwork must be rebuilt
# from its seed and plan, identically, on any machine and any later numpy. If one of
# them changes, every filed table has changed with it; fix the code, not the literal.


def test_it_pins_a_simple_sequence_with_p_one_half():
    plan = Plan("simple", p=0.5)

    assert letters(SEED, "almaty", plan, 20) == "CTCCTCTTCTCTTTTTCCTT"


def test_it_pins_a_complete_sequence_of_ten():
    plan = Plan("complete", chunk=10)

    assert letters(SEED, "almaty", plan, 10) == "TCCTTCTTCC"


def test_it_pins_a_blocked_sequence_with_blocks_of_four():
    plan = Plan("blocked", block_sizes=(4,))

    assert letters(SEED, "almaty", plan, 12) == "TCCT" + "CTTC" + "CTTC"


def test_it_pins_blocked_sequences_with_sizes_four_and_six_in_two_strata():
    plan = Plan("blocked", block_sizes=(4, 6))
    table = allocation_table(SEED, ["almaty", "astana"], plan, 14)

    pinned = [(stratum, slot.block, SHORT[slot.arm]) for stratum, slot in table]
    assert pinned == [
        *[("almaty", 1, arm) for arm in "CCTT"],
        *[("almaty", 2, arm) for arm in "CCCTTT"],
        *[("almaty", 3, arm) for arm in "CCTC"],
        *[("astana", 1, arm) for arm in "CCTT"],
        *[("astana", 2, arm) for arm in "TTCC"],
        *[("astana", 3, arm) for arm in "CTCTTC"],
    ]


def test_it_pins_a_three_arm_blocked_sequence_in_blocks_of_six():
    plan = Plan(
        "blocked", arms=("control", "a", "b"), ratio=(1, 1, 1), block_sizes=(6,)
    )

    arms = [slot.arm for slot in allocation_sequence(SEED, "almaty", plan, 12)]
    assert arms == [
        *["a", "control", "a", "b", "b", "control"],
        *["control", "a", "control", "a", "b", "b"],
    ]


def test_it_uses_one_raw_word_per_simple_slot_as_documented():
    key = int.from_bytes(hashlib.sha256(b"almaty").digest()[:8], byteorder="big")
    sequence = np.random.SeedSequence(entropy=SEED, spawn_key=(key,))
    words = np.random.PCG64(sequence).random_raw(500)
    expected = ["T" if (int(w) >> 11) * 2.0**-53 < 0.3 else "C" for w in words]

    assert stratum_key("almaty") == key
    assert letters(SEED, "almaty", Plan("simple", p=0.3), 500) == "".join(expected)


def test_it_gives_the_same_sequence_for_the_same_seed_twice():
    plan = Plan("blocked", block_sizes=(4, 6))

    first = allocation_sequence(SEED, "almaty", plan, 200)
    second = allocation_sequence(SEED, "almaty", plan, 200)
    assert first == second


def test_it_gives_another_sequence_for_another_seed():
    plan = Plan("blocked", block_sizes=(4, 6))

    assert letters(SEED, "almaty", plan, 60) != letters(SEED + 1, "almaty", plan, 60)


def test_it_gives_each_stratum_its_own_sequence():
    plan = Plan("blocked", block_sizes=(4, 6))

    assert letters(SEED, "almaty", plan, 60) != letters(SEED, "astana", plan, 60)


def test_a_strata_sequence_does_not_depend_on_the_other_strata_listed():
    plan = Plan("complete", chunk=30)

    alone = allocation_table(SEED, ["almaty"], plan, 30)
    among = allocation_table(SEED, ["other", "astana", "almaty"], plan, 30)
    assert [slot for stratum, slot in among if stratum == "almaty"] == [
        slot for _stratum, slot in alone
    ]


@pytest.mark.parametrize(
    "plan",
    [
        Plan("simple", p=0.4),
        Plan("simple", arms=("control", "a", "b"), ratio=(1, 2, 3)),
        Plan("complete", chunk=7),
        Plan("complete", arms=("control", "a", "b"), ratio=(2, 1, 1), chunk=10),
        Plan("blocked", block_sizes=(4, 6)),
        Plan("blocked", arms=("c", "a", "b"), ratio=(1, 1, 1), block_sizes=(3, 6, 9)),
    ],
    ids=["simple", "simple-3-arms", "complete", "complete-3-arms", "blocked", "b-3"],
)
def test_the_first_slots_are_the_same_whatever_the_length_asked_for(plan):
    longest = allocation_sequence(SEED, "almaty", plan, 101)

    for n in (1, 2, 5, 13, 50, 100):
        assert allocation_sequence(SEED, "almaty", plan, n) == longest[:n]


def test_it_numbers_positions_from_one_and_blocks_by_permuted_block():
    slots = allocation_sequence(SEED, "almaty", Plan("blocked", block_sizes=(4,)), 10)

    assert [slot.position for slot in slots] == list(range(1, 11))
    assert [slot.block for slot in slots] == [1] * 4 + [2] * 4 + [3] * 2


def test_a_simple_sequence_is_all_block_one():
    slots = allocation_sequence(SEED, "almaty", Plan("simple"), 50)

    assert {slot.block for slot in slots} == {1}


def test_a_complete_sequence_numbers_its_chunks_as_blocks():
    slots = allocation_sequence(SEED, "almaty", Plan("complete", chunk=4), 10)

    assert [slot.block for slot in slots] == [1] * 4 + [2] * 4 + [3] * 2
    assert Counter(slot.arm for slot in slots[:4]) == {"control": 2, "treatment": 2}
    assert Counter(slot.arm for slot in slots[4:8]) == {"control": 2, "treatment": 2}


def test_every_whole_block_holds_the_ratio_exactly():
    plan = plan_from_options("blocked", ratio="2:1", block_sizes=(3, 6))
    slots = allocation_sequence(SEED, "almaty", plan, 3000)

    whole = blocks(slots)[:-1]
    assert {len(block) for block in whole} == {3, 6}
    for block in whole:
        assert Counter(block) == {
            "treatment": len(block) * 2 // 3,
            "control": len(block) // 3,
        }


def test_block_sizes_are_drawn_from_the_set_whatever_its_order():
    forwards = Plan("blocked", block_sizes=(4, 6))
    backwards = Plan("blocked", block_sizes=(6, 4, 6))

    lengths = Counter(
        len(block)
        for block in blocks(allocation_sequence(SEED, "almaty", forwards, 5000))[:-1]
    )
    assert allocation_sequence(SEED, "almaty", backwards, 500) == (
        allocation_sequence(SEED, "almaty", forwards, 500)
    )
    assert set(lengths) == {4, 6}
    # The difference of two halves of N fair draws has standard deviation sqrt(N).
    assert abs(lengths[4] - lengths[6]) < 4 * np.sqrt(sum(lengths.values()))


def test_complete_gives_floor_shares_and_hands_out_the_remainder_at_random():
    plan = Plan("complete", chunk=11)

    treated = Counter(
        letters(seed, "almaty", plan, 11).count("T") for seed in range(60)
    )
    assert set(treated) == {5, 6}


def test_complete_gives_each_arm_its_share_on_average_for_an_unequal_ratio():
    # 2:1 over 4 slots: treatment's exact share is 8/3, so it gets 3 slots with
    # probability 2/3 (not 1/2, which would pull the share towards 1:1).
    stream = stratum_stream(SEED, "almaty")

    counts = [chunk_counts(stream, (1, 2), 4) for _ in range(3000)]
    treated = Counter(treatment for _control, treatment in counts)
    assert set(treated) == {2, 3}
    assert all(sum(count) == 4 for count in counts)
    assert abs(treated[3] / 3000 - 2 / 3) < 4 * np.sqrt(2 / 9 / 3000)


def test_complete_hands_one_spare_slot_each_to_different_arms():
    stream = stratum_stream(SEED, "almaty")

    for _ in range(500):
        counts = chunk_counts(stream, (1, 1, 1), 8)
        assert sorted(counts) == [2, 3, 3]


def test_a_complete_wave_past_its_quota_starts_a_new_chunk():
    plan = Plan("complete", chunk=6)
    slots = allocation_sequence(SEED, "almaty", plan, 12)

    assert Counter(slot.arm for slot in slots[6:]) == {"control": 3, "treatment": 3}
    assert {slot.block for slot in slots[6:]} == {2}


def test_simple_with_p_three_tenths_gives_about_thirty_percent_treatment():
    n = 20_000
    slots = allocation_sequence(SEED, "almaty", Plan("simple", p=0.3), n)

    share = sum(slot.arm == "treatment" for slot in slots) / n
    assert abs(share - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n)


def test_simple_with_a_ratio_gives_each_arm_about_its_share():
    n = 30_000
    plan = Plan("simple", arms=("control", "a", "b"), ratio=(1, 2, 3))
    counts = Counter(slot.arm for slot in allocation_sequence(SEED, "x", plan, n))

    for arm, share in zip(plan.arms, (1 / 6, 2 / 6, 3 / 6)):
        assert abs(counts[arm] / n - share) < 4 * np.sqrt(share * (1 - share) / n)


def chi_square(observed: list[int]) -> float:
    expected = sum(observed) / len(observed)
    return sum((o - expected) ** 2 / expected for o in observed)


def test_the_bounded_draw_is_uniform_for_a_small_bound():
    stream = stratum_stream(1, "bounded")
    draws = Counter(stream.below(7) for _ in range(70_000))

    # 6 degrees of freedom: 22.46 is the 0.999 quantile of chi-square.
    assert sorted(draws) == list(range(7))
    assert chi_square([draws[k] for k in range(7)]) < 22.46


def test_the_bounded_draw_has_no_modulo_bias_for_a_huge_bound():
    # Below 3 * 2**62, a plain ``word % k`` would put half the draws in the first
    # third; rejection keeps all three thirds equally likely.
    k = 3 * 2**62
    stream = stratum_stream(2, "bounded")
    thirds = Counter(stream.below(k) // 2**62 for _ in range(30_000))

    # 2 degrees of freedom: 13.82 is the 0.999 quantile of chi-square.
    assert chi_square([thirds[0], thirds[1], thirds[2]]) < 13.82


def test_the_bounded_draw_rejects_a_word_in_the_incomplete_last_stretch():
    # 2**64 % 3 == 1, so the largest word is the one that must be rejected.
    stream = RawStream(FakeBits([2**64 - 1, 5, 2**64 - 2]), batch=1)

    assert stream.below(3) == 2
    assert stream.below(3) == (2**64 - 2) % 3


def test_the_batch_size_does_not_change_which_word_a_draw_gets():
    def draws(batch):
        stream = RawStream(stratum_stream(SEED, "almaty").bit_generator, batch=batch)
        items = list(range(30))
        stream.shuffle(items)
        return items, stream.uniform(5).tolist(), stream.below(10)

    assert draws(1) == draws(7) == draws(4096)


def test_the_uniform_double_uses_the_top_53_bits():
    stream = RawStream(FakeBits([0, 2**64 - 1, 2**63]))

    assert stream.uniform(3).tolist() == [0.0, 1 - 2**-53, 0.5]


def test_item_orders_shuffle_each_slots_items_and_are_prefix_stable():
    orders = [["a", "b", "c", "d"], ["a", "b", "c", "d", "s"]] * 20

    shuffled = item_orders(SEED, "almaty#items", orders)
    assert [sorted(order) for order in shuffled] == [sorted(o) for o in orders]
    assert len({tuple(order) for order in shuffled}) > 10
    assert item_orders(SEED, "almaty#items", orders[:7]) == shuffled[:7]


def test_table_rows_give_stratum_position_block_and_arm():
    table = allocation_table(SEED, ["almaty"], Plan("blocked", block_sizes=(4,)), 2)

    rows = table_rows(table)
    assert [list(row) for row in rows] == [["stratum", "position", "block", "arm"]] * 2
    assert [(row["position"], row["block"]) for row in rows] == [(1, 1), (2, 1)]
    assert {row["stratum"] for row in rows} == {"almaty"}


def test_parse_ratio_reads_shares_separated_by_colons():
    assert parse_ratio("2:1") == (2, 1)
    assert parse_ratio(" 1 : 1 : 2 ") == (1, 1, 2)


@pytest.mark.parametrize("text", ["2:x", "2", "", "2:-1", "1.5:1", "2::1"])
def test_parse_ratio_refuses_text_that_is_not_whole_shares(text):
    with pytest.raises(PlanError, match="not whole numbers separated by colons"):
        parse_ratio(text)


def test_parse_block_sizes_refuses_a_size_that_is_not_a_number():
    assert parse_block_sizes(["4", "6"]) == (4, 6)
    with pytest.raises(PlanError, match="Block size 'four' is not a whole number"):
        parse_block_sizes(["4", "four"])


def test_without_arms_the_ratio_reads_treatment_to_control():
    plan = plan_from_options("blocked", ratio="2:1", block_sizes=(3,))

    assert plan.arms == ("control", "treatment")
    assert plan.ratio == (1, 2)


def test_with_arms_the_ratio_follows_the_arms():
    plan = plan_from_options("simple", ratio="2:1", arms=["control", "treatment"])
    three = plan_from_options("simple", ratio="1:2:3", arms=["control", "a", "b"])

    assert plan.ratio == (2, 1)
    assert three.ratio == (1, 2, 3)


def test_without_a_ratio_every_arm_gets_one_share():
    assert plan_from_options("simple").ratio == (1, 1)
    assert plan_from_options("simple", arms=["c", "a", "b"]).ratio == (1, 1, 1)


def test_without_arms_a_ratio_of_three_shares_is_refused():
    with pytest.raises(PlanError, match="without named arms it is treatment:control"):
        plan_from_options("simple", ratio="1:1:1")


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"kind": "stratified"}, "Unknown plan 'stratified'"),
        ({"kind": "simple", "arms": ("control",), "ratio": (1,)}, "at least two arms"),
        ({"kind": "simple", "arms": ("a", "a")}, "Arm 'a' is listed twice"),
        ({"kind": "simple", "arms": ("a", " ")}, "cannot be empty"),
        ({"kind": "simple", "ratio": (1, 1, 1)}, "has 3 shares but there are 2 arms"),
        ({"kind": "simple", "ratio": (0, 1)}, "at least 1; got 0:1"),
        ({"kind": "simple", "p": 1.0}, "strictly between 0 and 1; got 1.0"),
        ({"kind": "simple", "p": 0}, "strictly between 0 and 1; got 0"),
        (
            {"kind": "blocked", "p": 0.5, "block_sizes": (4,)},
            "p applies only to the simple plan",
        ),
        (
            {"kind": "simple", "arms": ("c", "a", "b"), "ratio": (1, 1, 1), "p": 0.5},
            "p applies only with two arms",
        ),
        ({"kind": "blocked"}, "needs at least one block size"),
        (
            {"kind": "blocked", "block_sizes": (5,)},
            "Block size 5 is not a multiple of 2, the sum of the ratio 1:1",
        ),
        ({"kind": "blocked", "block_sizes": (0,)}, "Block size 0 must be a whole"),
        ({"kind": "simple", "block_sizes": (4,)}, "only to the blocked plan"),
        ({"kind": "complete"}, "needs a chunk of at least 1"),
        ({"kind": "complete", "chunk": 0}, "needs a chunk of at least 1"),
        ({"kind": "simple", "chunk": 10}, "only to the complete plan"),
    ],
)
def test_a_plan_that_cannot_be_drawn_is_refused_with_a_reason(fields, message):
    with pytest.raises(PlanError, match=message.replace("(", r"\(")):
        Plan(**fields)


@pytest.mark.parametrize("seed", [-1, 2**63, 1.5, "7"])
def test_a_seed_outside_zero_to_two_to_the_63_is_refused(seed):
    with pytest.raises(PlanError, match="seed"):
        allocation_sequence(seed, "almaty", Plan("simple"), 5)


def test_the_largest_seed_is_accepted():
    assert len(allocation_sequence(2**63 - 1, "almaty", Plan("simple"), 5)) == 5


def test_an_empty_stratum_code_or_a_repeated_stratum_is_refused():
    with pytest.raises(PlanError, match="stratum code cannot be empty"):
        allocation_sequence(SEED, "", Plan("simple"), 5)
    with pytest.raises(PlanError, match="listed twice"):
        allocation_table(SEED, ["almaty", "almaty"], Plan("simple"), 5)
