"""python manage.py allocation_table --seed S --plan KIND --n N [--strata ...]."""

import json

from django.core.management.base import BaseCommand, CommandError

from fielding.sequences import (
    COMPLETE,
    KINDS,
    PlanError,
    allocation_table,
    parse_block_sizes,
    plan_from_options,
    table_csv,
    table_rows,
)
from survey.cli import several

ALL_STRATA = "all"


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

        strata = several(options["strata"]) or [ALL_STRATA]
        try:
            plan = plan_from_options(
                options["plan"],
                ratio=options["ratio"],
                arms=several(options["arms"]),
                p=options["p"],
                block_sizes=parse_block_sizes(several(options["block_sizes"])),
                chunk=n if options["plan"] == COMPLETE else None,
            )
            rows = table_rows(allocation_table(options["seed"], strata, plan, n))
        except PlanError as error:
            raise CommandError(str(error), returncode=2) from None

        if options["format"] == "json":
            self.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(table_csv(rows), ending="")
