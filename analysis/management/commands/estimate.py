"""python manage.py estimate FILE --outcome COL --treat COL --items J [--by COL]."""

from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from analysis.estimators.breakdown import breakdown_table
from analysis.formatting import INTERVAL_NOTE, as_csv, as_json, as_text
from fielding.tabular import (
    Problem,
    TableError,
    read_list_columns,
    read_table,
    require_columns,
)
from survey.cli import several


def level_array(values: list[str]) -> np.ndarray:
    return np.array(
        [None if v == "" or v.upper() == "NA" else v for v in values], dtype=object
    )


class Command(BaseCommand):
    help = (
        "Difference-in-means estimates from a CSV file, without a database: overall and "
        "within every level of each --by column. Bad rows are reported (exit 2)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--outcome", required=True, help="column with the count")
        parser.add_argument(
            "--treat", required=True, help="column: 1 treatment, 0 control"
        )
        parser.add_argument("--items", type=int, required=True, help="J, control items")
        parser.add_argument("--by", action="append", help="column(s) to break down by")
        parser.add_argument(
            "--format", choices=["table", "csv", "json"], default="table"
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}", returncode=2)
        if options["items"] < 1:
            raise CommandError("--items (J) must be 1 or more.", returncode=2)
        by = several(options["by"])

        try:
            table = read_table(path.read_bytes(), name=path.name)
            require_columns(table, by)
            columns = read_list_columns(
                table,
                outcome=options["outcome"],
                treat=options["treat"],
                items=options["items"],
            )
            if columns.problems:
                raise TableError(columns.problems)
            if not table.rows:
                raise TableError(
                    [Problem(1, "", _("the file has a header but no rows."))]
                )
        except TableError as error:
            for line in error.lines():
                self.stderr.write(f"{path.name}: {line}")
            raise CommandError("No estimate was made.", returncode=2) from None

        variables = {name: level_array(table.column(name)) for name in by}
        result = breakdown_table(
            np.array(columns.counts, dtype=float),
            np.array(columns.treated, dtype=bool),
            variables,
        )
        result["n_missing_count"] = columns.n_missing_count
        result["interval"] = INTERVAL_NOTE

        render = {"table": as_text, "csv": as_csv, "json": as_json}[options["format"]]
        self.stdout.write(
            render(result), ending="" if options["format"] != "json" else "\n"
        )
