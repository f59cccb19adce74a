"""python manage.py allocation_table --seed S --plan KIND --n N [--strata ...]."""

import json

from django.core.management.base import BaseCommand, CommandError

from fielding.sequences import (
    BLOCKED,
    COMPLETE,
    KINDS,
    MAX_BLOCK_SIZE,
    MAX_CHUNK,
    PlanError,
    allocation_table,
    parse_block_sizes,
    parse_ratio,
    plan_from_options,
    table_csv,
    table_rows,
)
from survey.cli import distinct, each, several

ALL_STRATA = "all"


def treatment_control_problem(
    text: str, kind: str, block_sizes: tuple[int, ...]
) -> str | None:
    """What is wrong with a ratio typed as treatment:control, echoing it as typed.

    The plan keeps its shares in arm order, control first, so its own messages would
    show ``1:0`` as ``0:1``. Whether a share is below 1 and whether a block holds the
    ratio do not depend on the order, so they are checked here on the ratio as typed.
    """
    shares = parse_ratio(text)
    if len(shares) != 2:
        return None
    if min(shares) < 1:
        return (
            f"Every share of the ratio {text} (treatment:control) must be a whole "
            "number of at least 1."
        )
    if kind != BLOCKED:
        return None

    total = sum(shares)
    for size in block_sizes:
        if not 1 <= size <= MAX_BLOCK_SIZE:
            return None
        if size % total:
            return (
                f"Block size {size} is not a multiple of {total}, the sum of the "
                f"ratio {text} (treatment:control)."
            )
    return None


class Command(BaseCommand):
    help = (
        "Print the allocation table that a seed and a plan give: stratum, position, "
        "block and arm for the first N slots of every stratum. The same seed and plan "
        "give the same table on any machine, so file both before fieldwork. Without "
        "--arms the ratio is treatment:control; with --arms it follows the arms."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, required=True, help="0 to 2**63 - 1")
        parser.add_argument("--plan", choices=KINDS, required=True)
        parser.add_argument("--n", type=int, required=True, help="slots per stratum")
        parser.add_argument(
            "--strata", action="append", help="stratum codes (default: all)"
        )
        parser.add_argument(
            "--arms", action="append", help="arm names (default: control,treatment)"
        )
        parser.add_argument(
            "--ratio", help="shares such as 2:1 (treatment:control without --arms)"
        )
        parser.add_argument(
            "--p", type=float, help="simple plan: probability of treatment"
        )
        parser.add_argument(
            "--block-sizes", action="append", help="blocked plan: sizes such as 4,6"
        )
        parser.add_argument("--format", choices=["csv", "json"], default="csv")

    def handle(self, *args, **options):
        n = options["n"]
        if n < 1:
            raise CommandError(
                f"--n must be at least 1 slot per stratum; got {n}.", returncode=2
            )
        # The complete plan holds all --n slots in one chunk, so its limit is the
        # limit for every plan: a table longer than that is never printed whole.
        if n > MAX_CHUNK:
            raise CommandError(
                f"--n must be at most {MAX_CHUNK} slots per stratum; got {n}.",
                returncode=2,
            )

        strata = several(options["strata"]) or [ALL_STRATA]
        arms = distinct(options["arms"], "--arms")
        try:
            block_sizes = parse_block_sizes(each(options["block_sizes"]))
            problem = None
            if options["ratio"] and not arms:
                problem = treatment_control_problem(
                    options["ratio"], options["plan"], block_sizes
                )
            if problem:
                raise PlanError(problem)
            plan = plan_from_options(
                options["plan"],
                ratio=options["ratio"],
                arms=arms,
                p=options["p"],
                block_sizes=block_sizes,
                chunk=n if options["plan"] == COMPLETE else None,
            )
            rows = table_rows(allocation_table(options["seed"], strata, plan, n))
        except PlanError as error:
            raise CommandError(str(error), returncode=2) from None

        if options["format"] == "json":
            self.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(table_csv(rows), ending="")
