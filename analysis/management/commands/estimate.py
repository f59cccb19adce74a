"""python manage.py estimate FILE --outcome COL --treat COL --items J [options]."""

from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from analysis.estimators.report import (
    DOUBLE,
    SEVERAL_ITEMS,
    ReportData,
    ReportSpec,
    report,
)
from analysis.formatting import INTERVAL_NOTE, as_csv, as_json, as_text, design_text
from fielding.tabular import (
    Problem,
    Table,
    TableError,
    parse_number,
    parse_whole,
    read_list_columns,
    read_table,
    require_columns,
)
from survey.cli import distinct, several


def level_array(values: list[str]) -> np.ndarray:
    return np.array(
        [None if v == "" or v.upper() == "NA" else v for v in values], dtype=object
    )


def number_array(values: list[str]) -> np.ndarray:
    """Numbers as written (NaN where empty or not a number)."""
    parsed = [parse_number(v) if v not in ("", "NA") else None for v in values]
    return np.array([np.nan if v is None else v for v in parsed], dtype=float)


def is_numeric(values: list[str]) -> bool:
    present = [v for v in values if v not in ("", "NA")]
    return bool(present) and all(parse_number(v) is not None for v in present)


def weight_problems(table: Table, column: str) -> list[Problem]:
    """Every weight must be a positive number, as the import requires."""
    at = table.header.index(column)
    problems = []
    for row, line in zip(table.rows, table.lines):
        weight = parse_number(row[at])
        if weight is None or not weight > 0:
            problems.append(
                Problem(
                    line,
                    column,
                    _("a weight must be a positive number, not “%(v)s”.")
                    % {"v": row[at]},
                )
            )
    return problems


def parse_compare(values: list[str] | None) -> tuple[tuple[str, str, str], ...]:
    """``VAR:A,B`` flags (repeatable) as (variable, a, b) triples."""
    triples = []
    for value in values or []:
        variable, _sep, levels = value.partition(":")
        parts = [p.strip() for p in levels.split(",")]
        if not variable or len(parts) != 2 or not all(parts):
            raise CommandError(
                f"--compare takes VAR:A,B (e.g. south:1,0), not {value!r}.",
                returncode=2,
            )
        triples.append((variable.strip(), parts[0], parts[1]))
    return tuple(triples)


class Command(BaseCommand):
    help = (
        "Estimates from a CSV file, without a database: the difference in means overall "
        "and within every level of each --by column, weighted if asked, group "
        "differences, the design-effect test, regression models and the balance of "
        "covariates across arms; several sensitive items (--arms) and double lists "
        "(--second-list). Bad rows are reported (exit 2)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--outcome", required=True, help="column with the count")
        parser.add_argument(
            "--treat", required=True, help="column: 1 treatment, 0 control"
        )
        parser.add_argument("--items", type=int, required=True, help="J, control items")
        parser.add_argument("--by", action="append", help="column(s) to break down by")
        parser.add_argument("--weight", default="", help="design weight column")
        parser.add_argument("--strata", default="", help="stratum column")
        parser.add_argument("--cluster", default="", help="cluster (PSU) column")
        parser.add_argument(
            "--compare", action="append", help="VAR:A,B gives estimate(A) - estimate(B)"
        )
        parser.add_argument(
            "--design-test",
            action="store_true",
            help="Blair-Imai test, floor and ceiling",
        )
        parser.add_argument(
            "--no-gms", action="store_true", help="design test without moment selection"
        )
        parser.add_argument("--model", choices=["lm", "ml"], help="ictreg-style model")
        parser.add_argument(
            "--covariates", action="append", help="the model's covariates"
        )
        parser.add_argument(
            "--predict-by", action="append", help="predicted proportions by level"
        )
        parser.add_argument(
            "--arms",
            action="append",
            help="arm labels in the treatment column, control first: control,a,b",
        )
        parser.add_argument(
            "--second-list",
            default="",
            help="OUTCOME,TREAT of a double list's second list (TREAT 1 = sensitive there)",
        )
        parser.add_argument(
            "--direct", default="", help="column of the direct question (1 yes, 0 no)"
        )
        parser.add_argument(
            "--balance",
            action="append",
            help="covariates whose balance across arms to check (numbers or codes)",
        )
        parser.add_argument(
            "--format", choices=["table", "csv", "json"], default="table"
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        if path.is_dir():
            raise CommandError(
                f"{path} is a folder; give the CSV file inside it.", returncode=2
            )
        if not path.is_file():
            raise CommandError(f"No such file: {path}", returncode=2)
        if options["items"] < 1:
            raise CommandError("--items (J) must be 1 or more.", returncode=2)
        spec = ReportSpec(
            by=tuple(several(options["by"])),
            compare=parse_compare(options["compare"]),
            design_test=options["design_test"],
            gms=not options["no_gms"],
            model=options["model"],
            covariates=tuple(several(options["covariates"])),
            predict_by=tuple(several(options["predict_by"])),
            direct=bool(options["direct"]),
            balance=tuple(several(options["balance"])),
        )
        if spec.predict_by and not spec.model:
            raise CommandError(
                "--predict-by needs --model lm or --model ml.", returncode=2
            )
        if any(a == b for _v, a, b in spec.compare):
            raise CommandError(
                "--compare needs two different levels, A and B.", returncode=2
            )
        if spec.covariates and not spec.model:
            raise CommandError(
                "--covariates needs --model lm or --model ml.", returncode=2
            )

        if options["arms"] or options["second_list"]:
            result = self.other_design(path, options, spec)
            render = {"table": design_text, "csv": as_csv, "json": as_json}
            self.stdout.write(
                render[options["format"]](result),
                ending="" if options["format"] == "csv" else "\n",
            )
            return

        table, columns = self.read(path, options, spec)
        data = self.report_data(table, columns, options, spec)
        try:
            result = report(data, spec)
        except ValueError as error:
            raise CommandError(str(error), returncode=2) from None
        result["n_missing_count"] = columns.n_missing_count
        result["interval"] = INTERVAL_NOTE

        render = {"table": as_text, "csv": as_csv, "json": as_json}[options["format"]]
        self.stdout.write(
            render(result), ending="" if options["format"] != "json" else "\n"
        )

    def read(self, path: Path, options, spec: ReportSpec):
        named = [
            *spec.by,
            *(variable for variable, _a, _b in spec.compare),
            *spec.covariates,
            *spec.predict_by,
            *spec.balance,
            *(
                options[k]
                for k in ("weight", "strata", "cluster", "direct")
                if options[k]
            ),
        ]
        try:
            table = read_table(path.read_bytes(), name=path.name)
            require_columns(table, list(dict.fromkeys(named)))
            columns = read_list_columns(
                table,
                outcome=options["outcome"],
                treat=options["treat"],
                items=options["items"],
            )
            problems = list(columns.problems)
            if options["weight"]:
                problems += weight_problems(table, options["weight"])
            if problems:
                raise TableError(sorted(problems, key=lambda p: p.line))
            if not table.rows:
                raise TableError(
                    [Problem(1, "", _("the file has a header but no rows."))]
                )
        except TableError as error:
            for line in error.lines():
                self.stderr.write(f"{path.name}: {line}")
            raise CommandError("No estimate was made.", returncode=2) from None
        return table, columns

    def report_data(
        self, table: Table, columns, options, spec: ReportSpec
    ) -> ReportData:
        level_names = [*spec.by, *(v for v, _a, _b in spec.compare), *spec.predict_by]
        model_columns, coded = covariate_columns(
            table, [*spec.covariates, *spec.balance]
        )
        return ReportData(
            counts=np.array(columns.counts, dtype=float),
            treated=np.array(columns.treated, dtype=bool),
            items=options["items"],
            levels={name: level_array(table.column(name)) for name in level_names},
            columns=model_columns,
            coded=frozenset(coded),
            weights=number_array(table.column(options["weight"]))
            if options["weight"]
            else None,
            strata=level_array(table.column(options["strata"]))
            if options["strata"]
            else None,
            clusters=(
                level_array(table.column(options["cluster"]))
                if options["cluster"]
                else None
            ),
            direct=(
                number_array(table.column(options["direct"]))
                if options["direct"]
                else None
            ),
            balance_strata=level_array(table.column(options["strata"]))
            if options["strata"]
            else None,
        )

    def other_design(self, path: Path, options, spec: ReportSpec) -> dict:
        """Several sensitive items (``--arms``) or a double list (``--second-list``)."""
        if options["weight"] or options["cluster"]:
            raise CommandError(
                "--weight and --cluster are for a single list; with --arms or "
                "--second-list the estimates are unweighted (--strata is used only "
                "for --balance).",
                returncode=2,
            )
        try:
            table = read_table(path.read_bytes(), name=path.name)
            named = [*spec.by, *spec.balance, options["strata"]]
            require_columns(table, [name for name in dict.fromkeys(named) if name])
            if options["arms"]:
                data = self.several_items(table, options)
            else:
                data = self.double_list(table, options)
        except TableError as error:
            for line in error.lines():
                self.stderr.write(f"{path.name}: {line}")
            raise CommandError("No estimate was made.", returncode=2) from None

        columns, coded = covariate_columns(table, list(spec.balance))
        data.levels = {name: level_array(table.column(name)) for name in spec.by}
        data.columns, data.coded = columns, frozenset(coded)
        if options["strata"]:
            data.balance_strata = level_array(table.column(options["strata"]))
        try:
            result = report(data, spec)
        except ValueError as error:
            raise CommandError(str(error), returncode=2) from None
        result["interval"] = INTERVAL_NOTE
        return result

    def several_items(self, table: Table, options) -> ReportData:
        arms = distinct(options["arms"], "--arms")
        if len(arms) < 2:
            raise CommandError("--arms names the control arm and at least one item.", 2)
        outcome, treat, items = options["outcome"], options["treat"], options["items"]
        require_columns(table, [outcome, treat])
        at_y, at_t = table.header.index(outcome), table.header.index(treat)
        counts, labels, problems = [], [], list(table.problems)
        for row, line in zip(table.rows, table.lines):
            arm, raw = row[at_t], row[at_y]
            if arm not in arms:
                problems.append(
                    Problem(
                        line, treat, f"arm “{arm}” is not one of {', '.join(arms)}."
                    )
                )
                continue
            top = items if arm == arms[0] else items + 1
            count = None if raw in ("", "NA") else parse_whole(raw)
            if raw not in ("", "NA") and (count is None or not 0 <= count <= top):
                problems.append(
                    Problem(line, outcome, f"the count must be 0 to {top} on “{arm}”.")
                )
                continue
            counts.append(np.nan if count is None else count)
            labels.append(arm)
        if problems:
            raise TableError(problems)
        labels = np.array(labels, dtype=object)
        return ReportData(
            counts=np.array(counts, dtype=float),
            treated=labels != arms[0],
            items=items,
            list_design=SEVERAL_ITEMS,
            arms=labels,
            arm_names=tuple(arms),
        )

    def double_list(self, table: Table, options) -> ReportData:
        outcome_b, _sep, treat_b = options["second_list"].partition(",")
        if not outcome_b or not treat_b:
            raise CommandError("--second-list takes OUTCOME,TREAT.", returncode=2)
        items = options["items"]
        first = read_list_columns(
            table, outcome=options["outcome"], treat=options["treat"], items=items
        )
        second = read_list_columns(table, outcome=outcome_b, treat=treat_b, items=items)
        problems = list(first.problems) + [
            p for p in second.problems if p not in first.problems
        ]
        for line, on_a, on_b, ok_a, ok_b in zip(
            table.lines, first.treated, second.treated, first.valid, second.valid
        ):
            if ok_a and ok_b and on_a == on_b:
                problems.append(
                    Problem(line, treat_b, "the sensitive item is on exactly one list.")
                )
        if problems:
            raise TableError(problems)
        on_a = np.array(first.treated, dtype=bool)
        return ReportData(
            counts=np.array(first.counts, dtype=float),
            treated=on_a,
            items=items,
            list_design=DOUBLE,
            arms=np.where(on_a, "A", "B").astype(object),
            arm_names=("A", "B"),
            second_counts=np.array(second.counts, dtype=float),
            second_items=items,
        )


def covariate_columns(table: Table, names: list[str]) -> tuple[dict, set]:
    """Each named column as numbers when every value reads as one, else as codes."""
    columns, coded = {}, set()
    for name in dict.fromkeys(names):
        values = table.column(name)
        if is_numeric(values):
            columns[name] = number_array(values)
        else:
            columns[name] = level_array(values)
            coded.add(name)
    return columns, coded
