"""An R script that reproduces a finished estimate job from the wave's microdata.

A reviewer downloads the wave's microdata (the CSV of `fielding.selectors.
microdata_rows`) and the job's script, runs ``Rscript`` on them, and sees the job's
table recomputed outside this system: the same rows kept, every recode worked out
from its question with the mapping written into the script, the difference in means
in base R and the weighted estimates with R's ``survey`` package, then every figure
compared with the job's own.

`r_script` only builds text from plain data (the job's specification and result and
a small dict of wave facts), so it is tested without a database; `wave_facts` reads
those facts from a job's rows. The script is plain ASCII: text from the survey
(codes, levels, labels) is written with R's ``\\u`` escapes, so it reads the same in
any locale.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping

FIELDING = ("stratum", "region", "place")
#: Lines of the script are kept within this width where they can be.
LINE_WIDTH = 88

#: The figures of a table row that the script compares with the job's.
TABLE_FIGURES = (
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "n_treatment",
    "n_control",
    "mean_treatment",
    "mean_control",
    "share",
)
DIFFERENCE_FIGURES = ("estimate", "se", "ci_low", "ci_high", "p_value")

#: Closed-form figures (means, linearization variances) are compared to 1e-8; what R
#: computes by iteration or simulation, to these.
#: The project's linear model agrees with ictreg's to this (see
#: tests/analysis/test_models.py).
LM_TOLERANCE = 1e-6
#: R's ictreg maximises by EM and stops once an iteration gains less than 1e-8 in
#: log-likelihood, short of the maximum the job finds (analysis/estimators/models.py).
ML_TOLERANCE = 1e-3
#: ict.test's p-value: exact formulas up to three inequalities per set ...
TEST_TOLERANCE = 1e-6
#: ... and random draws (mvtnorm, MASS::mvrnorm) beyond.
TEST_SIMULATED_TOLERANCE = 1e-2


def reproducible(job) -> bool:
    """Whether `r_script` can reproduce the job: a finished estimate of one list
    with one sensitive item."""
    result = getattr(job, "result", None) or {}
    return (
        getattr(job, "status", "succeeded") == "succeeded"
        and getattr(job, "kind", "estimate") == "estimate"
        and "overall" in result
        and result.get("list_design", "single") == "single"
    )


def microdata_name(wave_id: int) -> str:
    """The file name the microdata download gives the wave's CSV."""
    return f"wave{wave_id}-responses.csv"


def wave_facts(job) -> dict:
    """What the script needs to know about the job's wave beyond the job itself.

    Read from the job's rows as they are now: a recode or design weight changed
    since the job ran shows up as a difference when the script is run.
    """
    wave = job.wave
    survey = wave.survey
    questions = list(survey.questions.all())
    return {
        "id": wave.pk,
        "name": wave.name,
        "experiment": job.experiment.code,
        "items": job.experiment.items_count(),
        "experiments": survey.experiments.filter(assignments__respondent__wave=wave)
        .distinct()
        .count(),
        "questions": [q.code for q in questions],
        "numeric": [q.code for q in questions if q.kind == q.NUMERIC],
        "recodes": {
            r.name: {"question": r.question.code, "mapping": dict(r.mapping)}
            for r in survey.recodes.select_related("question")
        },
        "design_weights": {s.code: s.design_weight for s in wave.strata.all()},
    }


# R literals -------------------------------------------------------------------------


def r_string(value) -> str:
    """A double-quoted R string, ASCII only: other characters as \\u escapes."""
    out = []
    for char in str(value):
        code = ord(char)
        if char in '\\"':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif 32 <= code < 127:
            out.append(char)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{{{code:x}}}")
    return '"' + "".join(out) + '"'


def r_number(value) -> str:
    """An R number that reads back as the same double; NA for None or not finite."""
    if value is None or isinstance(value, bool):
        return "NA"
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if not math.isfinite(value):
        return "NA"
    return repr(value)


def r_vector(values: Iterable, kind: str, indent: str = "") -> str:
    """c(...) of strings ("text") or numbers ("number"), typed NA for missing ones,
    broken over lines (indented by `indent`) when long."""
    values = list(values)
    if kind == "text":
        items = ["NA" if v is None else r_string(v) for v in values]
        empty, na = "character()", "NA_character_"
    else:
        items = [r_number(v) for v in values]
        empty, na = "numeric()", "NA_real_"
    if not items:
        return empty
    if all(item == "NA" for item in items):
        items[0] = na
    one_line = "c(" + ", ".join(items) + ")"
    if len(indent) + len(one_line) <= 72:
        return one_line

    lines, line = [], ""
    for item in items:
        if line and len(indent) + 2 + len(line) + len(item) + 2 > LINE_WIDTH:
            lines.append(line)
            line = ""
        line = f"{line} {item}," if line else f"{item},"
    lines.append(line[:-1])
    inner = indent + "  "
    return "c(\n" + "\n".join(inner + line for line in lines) + f"\n{indent})"


def r_frame(columns: Mapping[str, tuple[str, list]], indent: str = "") -> str:
    """data.frame(...) with one line per column, each (kind, values)."""
    inner = indent + "  "
    lines = [
        f"{inner}{name} = {r_vector(values, kind, inner)},"
        for name, (kind, values) in columns.items()
    ]
    lines.append(f"{inner}stringsAsFactors = FALSE")
    return "data.frame(\n" + "\n".join(lines) + f"\n{indent})"


def comment(text: str) -> str:
    """Text as comment lines of at most `LINE_WIDTH` characters."""
    return "\n".join(
        textwrap.wrap(
            comment_safe(text),
            LINE_WIDTH,
            initial_indent="# ",
            subsequent_indent="# ",
            break_on_hyphens=False,
        )
    )


def comment_safe(text) -> str:
    """Text for a comment line: one line, ASCII, other characters as R escapes."""
    return r_string(" ".join(str(text).split()))[1:-1]


# The script ----------------------------------------------------------------------


def r_script(job, wave: Mapping) -> str:
    """The R script that reproduces `job` from wave `wave`'s microdata.

    Parameters
    ----------
    job
        Anything with the job's ``pk``, ``specification``, ``result``,
        ``responses_used`` and ``software_version`` (an `EstimateJob`, or plain
        data in tests).
    wave : mapping
        The facts `wave_facts` gives: ``id``, ``name``, ``experiment``, ``items``,
        ``experiments``, ``questions``, ``numeric``, ``recodes`` and
        ``design_weights``.

    Returns
    -------
    str
        The script's text, ASCII with Unix line ends.

    Raises
    ------
    ValueError
        For a job the script cannot reproduce: not a finished estimate of a single
        list with one sensitive item.

    Notes
    -----
    The script keeps the rows the job used (status complete, arm control or
    treatment) and rebuilds each breakdown variable as `analysis.selectors.level_of`
    does. It recomputes the table as the job did: without a design, the difference
    in means with the unequal-variance standard error in base R; with one,
    ``svydesign`` with the job's weights, strata and clusters, the Hajek means of
    every (level, arm) cell (and stratum, when the job estimated within strata) by
    ``svyby(..., covmat = TRUE)`` and each difference as an ``svycontrast`` of them,
    which is the estimator of `analysis.estimators.weighted`. Group differences,
    the design-effect test's shares (base R) and p-value (``list::ict.test``) and
    the models (``list::ictreg``) follow. The comparison with the job's figures uses
    1e-8 for the closed-form figures and the looser tolerances above for what R
    computes by iteration or simulation.

    The microdata has no column naming the list experiment: a wave whose
    respondents answered several list experiments can be reproduced only from an
    export that adds an ``experiment`` column; otherwise the script stops and says
    so. The balance check and the direct question are not reproduced.
    """
    if not reproducible(job):
        raise ValueError(
            "Only a finished estimate of one list with one sensitive item can be "
            "reproduced by a script."
        )
    spec = job.specification or {}
    result = job.result
    builder = _Script(job, spec, result, wave)
    return builder.text()


class _Script:
    """Builds the script section by section."""

    def __init__(self, job, spec: Mapping, result: Mapping, wave: Mapping):
        self.job = job
        self.spec = spec
        self.result = result
        self.wave = wave
        self.by = list(spec.get("by", []))
        self.compare = [
            (d["variable"], d["a"], d["b"]) for d in result.get("differences", [])
        ]
        self.design = result.get("design") or {}
        self.weighted = bool(result.get("weighted")) and any(self.design.values())
        self.models = [
            result[key] for key in ("model", "model_linear") if result.get(key)
        ]
        self.covariates = list(spec.get("covariates", []))
        self.predict_by = list(spec.get("predict_by", []))
        self.design_test = result.get("design_test")
        self.items = int(result.get("items") or wave.get("items") or 0)
        names = [
            *self.by,
            *(c[0] for c in self.compare),
            *self.predict_by,
            *self.covariates,
        ]
        self.variables = list(dict.fromkeys(names))

    def text(self) -> str:
        sections = [
            self.header(),
            self.setup(),
            self.rows(),
            self.variables_section(),
            self.estimates(),
            self.differences(),
            self.test_section(),
            self.model_section(),
            self.job_figures(),
            self.output(),
            self.comparison(),
        ]
        return "\n".join(s.rstrip("\n") + "\n" for s in sections if s)

    # Header and data --------------------------------------------------------------

    def header(self) -> str:
        job, wave = self.job, self.wave
        needs = ["R"]
        if self.weighted:
            needs.append("R's survey package (Debian: r-cran-survey)")
        if self.design_test or self.models:
            needs.append(
                "for the design-effect test's p-value and the models, the list "
                'package from CRAN (install.packages("list")); without it those '
                "figures are skipped"
            )
        lines = [
            f"# Reproduces estimate job {job.pk} of wave {wave['id']} from the wave's "
            "microdata.",
            "#",
            f"# Wave: {comment_safe(wave['name'])}",
            f"# List experiment: {comment_safe(wave['experiment'])}; J = "
            f"{self.items} control items.",
            f"# The job used {job.responses_used} complete responses; made by version "
            f"{comment_safe(job.software_version)}.",
            "#",
            "# Download the wave's microdata as CSV (the API's responses.csv, or",
            f"# `python manage.py export_wave {wave['id']} --format csv`), then run",
            f"#   Rscript reproduce-job{job.pk}.R {microdata_name(wave['id'])} "
            "[table.csv]",
            "# The script keeps the job's rows, recomputes every figure, prints the "
            "table in",
            "# the layout of the job's CSV (and writes it to table.csv if named), and "
            "compares",
            "# every figure with the job's own, written into this script below.",
            "#",
            comment("Needs: " + "; ".join(needs) + "."),
        ]
        skipped = [
            label
            for key, label in (
                ("balance", "the balance check"),
                ("direct", "the direct question"),
            )
            if key in self.result
        ]
        if skipped:
            lines.append(comment(f"Not reproduced here: {' and '.join(skipped)}."))
        return "\n".join(lines) + "\n"

    def setup(self) -> str:
        lines = [
            "args <- commandArgs(trailingOnly = TRUE)",
            "microdata <- if (length(args) >= 1) args[[1]] else "
            + r_string(microdata_name(self.wave["id"])),
            "table_file <- if (length(args) >= 2) args[[2]] else NA",
            f"J <- {self.items}",
            "z95 <- qnorm(0.975)",
        ]
        if self.weighted:
            lines += [
                "",
                'if (!requireNamespace("survey", quietly = TRUE)) {',
                '  stop("This job is weighted: install R\'s survey package first ",',
                '       "(Debian: apt-get install r-cran-survey; elsewhere: ",',
                '       "install.packages(\\"survey\\")).")',
                "}",
                "suppressPackageStartupMessages(library(survey))",
                "# As survey does by default: a stratum with one PSU has no variance.",
                'options(survey.lonely.psu = "fail")',
            ]
        if self.design_test or self.models:
            lines += [
                "",
                "# The list package gives the design-effect test's p-value and the "
                "models.",
                'has_list <- requireNamespace("list", quietly = TRUE)',
                "if (has_list) {",
                "  suppressPackageStartupMessages(library(list))",
                "} else {",
                '  message("The list package is not installed (it is on CRAN, not ",',
                '          "Debian): the design-effect test\'s p-value and the models ",',
                '          "are skipped.")',
                "}",
            ]
        return "\n".join(lines) + "\n"

    def needed_columns(self) -> list[str]:
        columns = ["wave_id", "status", "arm", "count"]
        if self.weighted:
            columns += ["weight", "stratum"]
            if self.design.get("clusters"):
                columns.append("place")
        for name in self.variables:
            kind, source = self.variable_source(name)
            columns.append(name if kind == "fielding" else source)
        return list(dict.fromkeys(columns))

    def rows(self) -> str:
        wave = self.wave
        lines = [
            "# The microdata: every column read as text, an empty cell as missing.",
            'data <- read.csv(microdata, encoding = "UTF-8", check.names = FALSE,',
            '                 colClasses = "character", na.strings = "")',
            "# The export starts with a byte-order mark (for Excel); R may keep it in "
            "the first name.",
            'names(data)[1] <- sub("^\\ufeff", "", names(data)[1])',
            f"needed <- {r_vector(self.needed_columns(), 'text')}",
            "absent <- needed[!needed %in% names(data)]",
            "if (length(absent) > 0) {",
            '  stop("The file has no column ", paste(absent, collapse = ", "),',
            f'       "; use the microdata of wave {wave["id"]}.")',
            "}",
            f'if (any(data$wave_id != "{wave["id"]}", na.rm = TRUE)) {{',
            f'  stop("The file holds rows of another wave; use the microdata of wave '
            f'{wave["id"]}.")',
            "}",
            "",
            "# The job's list experiment.",
            'if ("experiment" %in% names(data)) {',
            f"  data <- data[data$experiment %in% {r_string(wave['experiment'])}, , "
            "drop = FALSE]",
        ]
        if int(wave.get("experiments") or 0) > 1:
            lines += [
                "} else {",
                f"  stop(\"Wave {wave['id']}'s respondents answered "
                f"{wave['experiments']} list experiments and this file has no "
                'experiment column to tell their rows apart.")',
            ]
        lines += [
            "}",
            "",
            "# The job's rows: complete responses in the control and treatment arms.",
            'kept <- data$status %in% "complete" & data$arm %in% c("control", '
            '"treatment")',
            "data <- data[kept, , drop = FALSE]",
            "count <- as.numeric(data$count)",
            'treat <- as.integer(data$arm == "treatment")',
        ]
        return "\n".join(lines) + "\n"

    # Variables ------------------------------------------------------------------------

    def variable_source(self, name: str) -> tuple[str, str]:
        """("fielding" | "recode" | "question", the column it is read from)."""
        if name in FIELDING:
            return "fielding", name
        recodes = self.wave.get("recodes", {})
        if name in recodes:
            return "recode", recodes[name]["question"]
        return "question", name

    def variables_section(self) -> str:
        if not self.variables:
            return ""
        lines = [
            "# Breakdown variables, read as the job reads them: fielding metadata "
            "(stratum,",
            "# region, place) from its column; a recode from its question's column "
            "with the",
            "# mapping written here (a code the mapping leaves out is missing); a "
            "covariate",
            "# from its column, as text. Levels are compared as text.",
            "recode <- function(x, from, to) to[match(x, from)]",
            "variables <- list()",
        ]
        recodes = self.wave.get("recodes", {})
        for name in self.variables:
            kind, source = self.variable_source(name)
            target = f"variables[[{r_string(name)}]]"
            if kind == "recode":
                mapping = recodes[name]["mapping"]
                codes = [str(code) for code in mapping]
                levels = [None if v is None else str(v) for v in mapping.values()]
                lines += [
                    comment(f"{name}: a recode of {source}."),
                    f"{target} <- recode(data[[{r_string(source)}]],",
                    f"  from = {r_vector(codes, 'text', '  ')},",
                    f"  to = {r_vector(levels, 'text', '  ')})",
                ]
            else:
                lines.append(f"{target} <- data[[{r_string(source)}]]")
        return "\n".join(lines) + "\n"

    # Estimates ------------------------------------------------------------------------

    def estimates(self) -> str:
        table_names = f"variables[{r_vector(self.by, 'text')}]" if self.by else "list()"
        if not self.weighted:
            return (
                COMMON_FUNCTIONS
                + UNWEIGHTED_FUNCTIONS
                + f"estimates <- unweighted_table({table_names})\n"
            )
        return (
            self.design_section()
            + COMMON_FUNCTIONS
            + WEIGHTED_FUNCTIONS
            + f"estimates <- weighted_table({table_names})\n"
        )

    def design_section(self) -> str:
        design = self.design
        weights = self.wave.get("design_weights") or {}
        lines = ["# The sample design the job used, as svydesign takes it."]
        if design.get("weights"):
            lines += [
                "# Weights: each respondent's own weight when the wave gives any, as "
                "the job",
                "# takes them; otherwise the design weight of the respondent's "
                "stratum.",
                "weight <- as.numeric(data$weight)",
            ]
            if any(w is not None for w in weights.values()):
                lines += [
                    "design_weights <- "
                    + r_frame(
                        {
                            "stratum": ("text", list(weights)),
                            "weight": ("number", list(weights.values())),
                        }
                    ),
                    "if (all(is.na(weight))) {",
                    "  weight <- design_weights$weight[match(data$stratum, "
                    "design_weights$stratum)]",
                    "}",
                ]
        else:
            lines += [
                "# No weights: every respondent counts once.",
                "weight <- rep(1, nrow(data))",
            ]
        lines += [
            "design_data <- data.frame(count = count, treat = treat, weight = weight,",
            "                          stratum = data$stratum, stringsAsFactors = "
            "FALSE)",
        ]
        if design.get("clusters"):
            lines.append("# Clusters: the place of interview, nested within strata.")
            lines.append("design_data$cluster <- data$place")
            ids = "~cluster"
        else:
            ids = "~1"
        if design.get("strata"):
            lines.append("# Strata: the wave's strata.")
            strata = "~stratum"
        else:
            strata = "NULL"
        lines += [
            f"design <- svydesign(ids = {ids}, strata = {strata}, weights = ~weight,",
            "                    nest = TRUE, data = design_data)",
            "usable <- !is.na(count) & weight > 0",
        ]
        if design.get("strata"):
            lines += [
                "# Where the share given the treatment list differs between strata by "
                "more than",
                "# 0.1, the job estimates the difference within each stratum and "
                "combines the",
                "# strata by their weight totals; otherwise it pools them.",
                "shares <- tapply(treat[usable], data$stratum[usable], mean)",
                "within_strata <- (max(shares) - min(shares)) > 0.1",
            ]
        else:
            lines.append("within_strata <- FALSE")
        return "\n".join(lines) + "\n\n"

    def differences(self) -> str:
        if not self.compare:
            return ""
        function = "weighted_difference" if self.weighted else "unweighted_difference"
        calls = [
            f"  {function}({r_string(v)}, {r_string(a)}, {r_string(b)})"
            for v, a, b in self.compare
        ]
        return (
            "# Differences between two levels: estimate(a) minus estimate(b).\n"
            "differences <- rbind(\n" + ",\n".join(calls) + "\n)\n"
        )

    def test_section(self) -> str:
        if not self.design_test:
            return ""
        tolerance = TEST_TOLERANCE if self.items <= 3 else TEST_SIMULATED_TOLERANCE
        gms = "TRUE" if self.design_test.get("gms", True) else "FALSE"
        return (
            DESIGN_TEST
            + "\n".join(
                [
                    "test_p <- NA_real_",
                    "if (has_list) {",
                    "  # ict.test draws at random beyond three inequalities per set.",
                    "  set.seed(1)",
                    "  answered <- !is.na(count)",
                    "  test <- ict.test(count[answered], treat[answered], J = J, "
                    f"gms = {gms})",
                    "  # The job caps the Bonferroni-corrected p-value at 1.",
                    "  test_p <- min(1, unname(test$p[1]))",
                    "}",
                    f"test_tolerance <- {r_number(tolerance)}",
                ]
            )
            + "\n"
        )

    # Models ---------------------------------------------------------------------------

    def model_terms(self, model: Mapping) -> list[tuple[str, str, str | None]]:
        """(job's coefficient name, variable, level or None for a number), the
        intercept left out, in the order of the covariates."""
        names = list(model["sensitive"]["coef"])
        terms = []
        numeric = set(self.wave.get("numeric", []))
        for covariate in self.covariates:
            if covariate in numeric and covariate in names:
                terms.append((covariate, covariate, None))
                continue
            prefix = covariate + ":"
            terms += [
                (name, covariate, name[len(prefix) :])
                for name in names
                if name.startswith(prefix)
            ]
        return terms

    def model_section(self) -> str:
        if not self.models:
            return ""
        terms = self.model_terms(self.models[0])
        lines = [
            "# Models: list::ictreg as the job fits them, unweighted. Each "
            "covariate enters",
            "# as the job's model matrix has it: a number as it is, a coded one as one",
            "# indicator per level but the first; x1, x2, ... are named as the job "
            "names them.",
            "model_data <- data.frame(count = count, treat = treat)",
        ]
        for position, (name, variable, level) in enumerate(terms, start=1):
            source = f"variables[[{r_string(variable)}]]"
            if level is None:
                value = f"suppressWarnings(as.numeric({source}))"
            else:
                value = f"as.numeric({source} == {r_string(level)})"
            lines.append(f"model_data$x{position} <- {value}  # {comment_safe(name)}")
        formula = " + ".join(f"x{i}" for i in range(1, len(terms) + 1)) or "1"
        lines += [
            "model_rows <- complete.cases(model_data)",
            "model_data <- model_data[model_rows, , drop = FALSE]",
            "x <- cbind(1, as.matrix(model_data[, -(1:2), drop = FALSE]))",
            f"model_formula <- count ~ {formula}",
        ]
        return MODEL_FUNCTIONS + "\n".join(lines) + "\n"

    # The job's figures -----------------------------------------------------------

    def job_figures(self) -> str:
        result = self.result
        rows = [{"variable": "overall", "level": "overall", **result["overall"]}]
        rows += [
            {**group, "label": group.get("label", group["level"])}
            for group in result.get("groups", [])
        ]
        rows[0]["label"] = "overall"
        columns = {
            "variable": ("text", [r["variable"] for r in rows]),
            "level": ("text", [r["level"] for r in rows]),
        }
        for key in TABLE_FIGURES:
            columns[key] = ("number", [r.get(key) for r in rows])
        columns["label"] = ("text", [r["label"] for r in rows])
        lines = [
            "# The job's own figures, as its CSV gives them.",
            f"job_responses_used <- {r_number(self.job.responses_used)}",
            "job_table <- " + r_frame(columns),
        ]
        if self.compare:
            differences = result["differences"]
            frame = {
                "variable": ("text", [d["variable"] for d in differences]),
                "a": ("text", [d["a"] for d in differences]),
                "b": ("text", [d["b"] for d in differences]),
            }
            for key in DIFFERENCE_FIGURES:
                frame[key] = ("number", [d.get(key) for d in differences])
            lines.append("job_differences <- " + r_frame(frame))
        if self.design_test:
            test = self.design_test
            proportions = test.get("proportions", [])
            lines += [
                f"job_test_p <- {r_number(test.get('p_value'))}",
                "job_test_shares <- "
                + r_frame(
                    {
                        "y": ("number", [p["y"] for p in proportions]),
                        "z": ("number", [p["z"] for p in proportions]),
                        "estimate": ("number", [p["estimate"] for p in proportions]),
                        "se": ("number", [p["se"] for p in proportions]),
                    }
                ),
            ]
        if self.models:
            lines.append("job_models <- list()")
            terms = self.model_terms(self.models[0])
            names = ["(Intercept)", *(t[0] for t in terms)]
            for model in self.models:
                lines += self.job_model(model, names)
        return "\n".join(lines) + "\n"

    def job_model(self, model: Mapping, names: list[str]) -> list[str]:
        sensitive, control = model["sensitive"], model["control"]
        coefficients = {
            "term": ("text", names),
            "sensitive": ("number", [sensitive["coef"].get(n) for n in names]),
            "sensitive_se": ("number", [sensitive["se"].get(n) for n in names]),
            "control": ("number", [control["coef"].get(n) for n in names]),
            "control_se": ("number", [control["se"].get(n) for n in names]),
        }
        groups = model.get("predicted_by", [])
        predicted = {
            "variable": ("text", ["overall", *(g["variable"] for g in groups)]),
            "level": ("text", ["overall", *(g["level"] for g in groups)]),
            "estimate": (
                "number",
                [model["predicted"]["estimate"], *(g["estimate"] for g in groups)],
            ),
            "se": ("number", [model["predicted"]["se"], *(g["se"] for g in groups)]),
        }
        method = model["method"]
        tolerance = LM_TOLERANCE if method == "lm" else ML_TOLERANCE
        return [
            f"job_models[[{r_string(method)}]] <- list(",
            f"  tolerance = {r_number(tolerance)},",
            "  coefficients = " + r_frame(coefficients, indent="  ") + ",",
            "  predicted = " + r_frame(predicted, indent="  "),
            ")",
        ]

    # Output and comparison ---------------------------------------------------------

    def output(self) -> str:
        lines = [OUTPUT]
        if self.compare:
            lines.append(
                'cat("\\nDifferences between groups:\\n")\n'
                'write.csv(differences, stdout(), row.names = FALSE, na = "")'
            )
        if self.design_test:
            lines.append(
                'cat("\\nDesign-effect test: shares pi(y, z) (z = 1 holds the '
                'sensitive item):\\n")\n'
                'write.csv(test_shares, stdout(), row.names = FALSE, na = "")\n'
                'cat("Bonferroni-corrected p-value:", format(test_p, digits = 10), '
                '"\\n")'
            )
        return "\n".join(lines) + "\n"

    def comparison(self) -> str:
        lines = [COMPARE_TABLE]
        if self.compare:
            lines.append(COMPARE_DIFFERENCES)
        if self.design_test:
            lines.append(COMPARE_TEST)
        if self.models:
            lines.append(COMPARE_MODELS)
        lines.append(VERDICT)
        return "\n".join(lines)


COMMON_FUNCTIONS = """\
# One row of the table: the estimate with its normal 95% interval.
estimate_row <- function(estimate, se, n1, n0, m1, m0, share = NA_real_) {
  data.frame(estimate = estimate, se = se,
             ci_low = estimate - z95 * se, ci_high = estimate + z95 * se,
             n_treatment = n1, n_control = n0,
             mean_treatment = m1, mean_control = m0, share = share)
}

# A difference between two levels, a minus b, with a two-sided normal p-value.
difference_row <- function(name, a, b, estimate, se) {
  p <- if (!is.na(se) && se > 0) 2 * pnorm(-abs(estimate / se)) else NA_real_
  data.frame(variable = name, a = a, b = b, estimate = estimate, se = se,
             ci_low = estimate - z95 * se, ci_high = estimate + z95 * se,
             p_value = p)
}

"""

UNWEIGHTED_FUNCTIONS = """\
# Difference in means (treatment minus control) with the unequal-variance standard
# error sqrt(s_t^2 / n_t + s_c^2 / n_c), each variance with n - 1. Fewer than two
# respondents in an arm give no estimate.
difference_in_means <- function(y, t) {
  y1 <- y[t == 1]
  y0 <- y[t == 0]
  n1 <- length(y1)
  n0 <- length(y0)
  m1 <- if (n1 > 0) mean(y1) else NA_real_
  m0 <- if (n0 > 0) mean(y0) else NA_real_
  if (n1 < 2 || n0 < 2) return(estimate_row(NA_real_, NA_real_, n1, n0, m1, m0))
  estimate_row(m1 - m0, sqrt(var(y1) / n1 + var(y0) / n0), n1, n0, m1, m0)
}

# The respondents of one level: a count and that level.
level_rows <- function(v, level) !is.na(count) & !is.na(v) & v == level

# The overall row, then one row per level of each variable, whose share is its
# share of the respondents with a count and a level.
unweighted_table <- function(variables) {
  answered <- !is.na(count)
  rows <- list(cbind(variable = "overall", level = "overall",
                     difference_in_means(count[answered], treat[answered])))
  for (name in names(variables)) {
    v <- variables[[name]]
    known <- answered & !is.na(v)
    for (level in sort(unique(v[known]))) {
      inside <- level_rows(v, level)
      row <- difference_in_means(count[inside], treat[inside])
      row$share <- sum(inside) / sum(known)
      rows[[length(rows) + 1]] <- cbind(variable = name, level = level, row)
    }
  }
  do.call(rbind, rows)
}

# Two levels are independent samples, so their difference has the standard error
# sqrt(se_a^2 + se_b^2).
unweighted_difference <- function(name, a, b) {
  v <- variables[[name]]
  one <- function(level) {
    inside <- level_rows(v, level)
    difference_in_means(count[inside], treat[inside])
  }
  ra <- one(a)
  rb <- one(b)
  difference_row(name, a, b, ra$estimate - rb$estimate, sqrt(ra$se^2 + rb$se^2))
}

"""

WEIGHTED_FUNCTIONS = """\
# The weighted difference in means within each domain (a level of a variable, or
# everyone): the Hajek mean count of every (domain, group, arm) cell from one svyby
# call with their covariance, and each domain's difference as an svycontrast of
# those means. The groups are the strata when the job estimated within strata, each
# weighted by its share of the domain's weight total, and a single group otherwise.
# Every domain is a subset of the whole design, as svyby makes it. `pairs` asks for
# differences between two domains, c(a, b) for a minus b.
weighted_domains <- function(domain, pairs = list()) {
  group <- if (within_strata) design_data$stratum else rep("all", length(count))
  inside <- usable & !is.na(domain)
  levels <- sort(unique(domain[!is.na(domain)]))
  groups <- sort(unique(group[inside]))
  if (!any(inside)) {
    none <- rep(NA_real_, length(levels))
    return(list(levels = data.frame(level = levels, n_treatment = 0, n_control = 0,
                                    mean_treatment = none, mean_control = none,
                                    estimate = none, se = none, share = none),
                pairs = data.frame(estimate = rep(NA_real_, length(pairs)),
                                   se = rep(NA_real_, length(pairs)))))
  }
  d <- match(domain, levels)
  g <- match(group, groups)
  cell <- ifelse(inside, paste(d, g, treat, sep = "_"), NA)
  means <- svyby(~count, ~cell, update(design, cell = cell), svymean,
                 covmat = TRUE, na.rm.by = TRUE)
  m <- coef(means)

  facts <- list()
  contrasts <- list()
  for (i in seq_along(levels)) {
    in_domain <- inside & d %in% i
    totals <- tapply(weight[in_domain], factor(g[in_domain], seq_along(groups)), sum)
    present <- which(!is.na(totals))
    f <- unname(totals[present] / sum(totals[present]))
    size <- table(factor(g[in_domain], present), factor(treat[in_domain], 0:1))
    arm_mean <- function(a) {
      if (sum(size[, a + 1]) == 0 || any(size[, a + 1] == 0)) return(NA_real_)
      sum(f * m[paste(i, present, a, sep = "_")])
    }
    n1 <- sum(size[, 2])
    n0 <- sum(size[, 1])
    facts[[i]] <- data.frame(level = levels[i], n_treatment = n1, n_control = n0,
                             mean_treatment = arm_mean(1), mean_control = arm_mean(0),
                             total = sum(totals[present]))
    if (min(n1, n0) >= 2 && (!within_strata || all(size >= 2))) {
      contrasts[[paste0("level", i)]] <- c(
        setNames(f, paste(i, present, 1, sep = "_")),
        setNames(-f, paste(i, present, 0, sep = "_")))
    }
  }
  for (k in seq_along(pairs)) {
    ends <- paste0("level", match(pairs[[k]], levels))
    if (all(ends %in% names(contrasts))) {
      contrasts[[paste0("pair", k)]] <- c(contrasts[[ends[1]]], -contrasts[[ends[2]]])
    }
  }

  fitted <- if (length(contrasts) > 0) svycontrast(means, contrasts) else NULL
  figure <- function(key, what) {
    if (is.null(fitted) || !key %in% names(coef(fitted))) return(NA_real_)
    if (what == "estimate") unname(coef(fitted)[key]) else sqrt(vcov(fitted)[key, key])
  }
  facts <- do.call(rbind, facts)
  keys <- paste0("level", seq_along(levels))
  facts$estimate <- sapply(keys, figure, what = "estimate")
  facts$se <- sapply(keys, figure, what = "se")
  facts$share <- facts$total / sum(facts$total)
  pair_keys <- paste0("pair", seq_along(pairs))
  list(levels = facts,
       pairs = data.frame(estimate = sapply(pair_keys, figure, what = "estimate"),
                          se = sapply(pair_keys, figure, what = "se")))
}

weighted_rows <- function(name, fit, share = TRUE) {
  f <- fit$levels
  rows <- estimate_row(f$estimate, f$se, f$n_treatment, f$n_control,
                       f$mean_treatment, f$mean_control,
                       if (share) f$share else NA_real_)
  cbind(variable = name, level = f$level, rows)
}

weighted_table <- function(variables) {
  everyone <- rep("overall", length(count))
  rows <- list(weighted_rows("overall", weighted_domains(everyone), share = FALSE))
  for (name in names(variables)) {
    rows[[length(rows) + 1]] <- weighted_rows(name, weighted_domains(variables[[name]]))
  }
  do.call(rbind, rows)
}

# The difference between two levels, as a contrast on the same svyby fit, so its
# standard error allows for the PSUs and strata the two levels share.
weighted_difference <- function(name, a, b) {
  fit <- weighted_domains(variables[[name]], pairs = list(c(a, b)))
  difference_row(name, a, b, fit$pairs$estimate[1], fit$pairs$se[1])
}

"""

DESIGN_TEST = """\
# Design-effect test (Blair and Imai 2012), unweighted as the job does it. Without a
# design effect the share pi(y, z) of respondents with control count y who hold
# (z = 1) or do not hold (z = 0) the sensitive item is a difference of the arms'
# distribution functions: pi(y, 1) = F_c(y) - F_t(y), pi(y, 0) = F_t(y) - F_c(y - 1).
y_t <- count[treat == 1 & !is.na(count)]
y_c <- count[treat == 0 & !is.na(count)]
test_shares <- do.call(rbind, lapply(c(1, 0), function(z) {
  do.call(rbind, lapply(0:J, function(y) {
    f_t <- mean(y_t <= y)
    f_c <- mean(y_c <= if (z == 1) y else y - 1)
    data.frame(y = y, z = z, estimate = if (z == 1) f_c - f_t else f_t - f_c,
               se = sqrt(f_t * (1 - f_t) / length(y_t) +
                         f_c * (1 - f_c) / length(y_c)))
  }))
}))
"""

MODEL_FUNCTIONS = """\
# The mean predicted share holding the sensitive item over some of the model's rows,
# with its delta-method standard error sqrt(d' V d): d is the mean row of x for the
# linear model, the mean of p (1 - p) x for the logistic one (as predict.ictreg with
# avg = TRUE computes it).
predicted_share <- function(fit, rows) {
  k <- ncol(x)
  b <- fit$par.treat
  v <- vcov(fit)[1:k, 1:k]
  xr <- x[rows, , drop = FALSE]
  eta <- drop(xr %*% b)
  if (fit$method == "lm") {
    estimate <- mean(eta)
    d <- colMeans(xr)
  } else {
    p <- plogis(eta)
    estimate <- mean(p)
    d <- colMeans(xr * (p * (1 - p)))
  }
  c(estimate = estimate, se = sqrt(drop(t(d) %*% v %*% d)))
}

"""

OUTPUT = """\
# The table in the job's order, with its labels; rows the job does not have last.
key <- function(t) paste(t$variable, t$level, sep = "\\r")
position <- match(key(estimates), key(job_table))
estimates <- estimates[order(position, na.last = TRUE), , drop = FALSE]
position <- match(key(estimates), key(job_table))
estimates$note <- ifelse(is.na(estimates$estimate),
  "Fewer than 2 respondents in an arm; no estimate.",
  ifelse(pmin(estimates$n_treatment, estimates$n_control) < 30,
    "Fewer than 30 respondents in an arm; the standard error is unreliable.", NA))
estimates$label <- ifelse(is.na(position), estimates$level, job_table$label[position])
rownames(estimates) <- NULL

cat("Estimates (proportions), in the layout of the job's CSV:\\n")
write.csv(estimates, stdout(), row.names = FALSE, na = "")
if (!is.na(table_file)) {
  write.csv(estimates, table_file, row.names = FALSE, na = "", fileEncoding = "UTF-8")
}
"""

COMPARE_TABLE = """\
# Every figure against the job's.
disagreements <- character()
looser <- character()
skipped <- character()
show <- function(x) if (is.na(x)) "NA" else format(x, digits = 15)
agree <- function(what, ours, job, tolerance = 1e-8) {
  ours <- as.numeric(ours)
  job <- as.numeric(job)
  same <- if (is.na(job)) is.na(ours) else !is.na(ours) && abs(ours - job) <= tolerance
  if (!same) {
    found <- sprintf("%s: R gives %s, the job %s", what, show(ours), show(job))
    disagreements <<- c(disagreements, found)
  }
}

agree("responses used", nrow(data), job_responses_used, 0)
for (r in seq_len(nrow(job_table))) {
  where <- paste(job_table$variable[r], "=", job_table$level[r])
  found <- match(key(job_table)[r], key(estimates))
  if (is.na(found)) {
    disagreements <- c(disagreements, paste(where, "is not in the microdata"))
    next
  }
  for (figure in c("estimate", "se", "ci_low", "ci_high", "n_treatment", "n_control",
                   "mean_treatment", "mean_control", "share")) {
    agree(paste(where, figure), estimates[[figure]][found], job_table[[figure]][r])
  }
}
for (extra in which(is.na(match(key(estimates), key(job_table))))) {
  disagreements <- c(disagreements, paste(estimates$variable[extra], "=",
                     estimates$level[extra], "is in the microdata but not in the job"))
}
"""

COMPARE_DIFFERENCES = """\
for (r in seq_len(nrow(job_differences))) {
  where <- with(job_differences[r, ], paste(variable, a, "minus", b))
  for (figure in c("estimate", "se", "ci_low", "ci_high", "p_value")) {
    agree(paste(where, figure), differences[[figure]][r], job_differences[[figure]][r])
  }
}
"""

COMPARE_TEST = """\
for (r in seq_len(nrow(job_test_shares))) {
  found <- which(test_shares$y == job_test_shares$y[r] &
                 test_shares$z == job_test_shares$z[r])
  where <- sprintf("design-effect test pi(%d, %d)", job_test_shares$y[r],
                   job_test_shares$z[r])
  agree(paste(where, "estimate"), test_shares$estimate[found],
        job_test_shares$estimate[r])
  agree(paste(where, "se"), test_shares$se[found], job_test_shares$se[r])
}
if (has_list) {
  agree("design-effect test p-value", test_p, job_test_p, test_tolerance)
  looser <- c(looser, sprintf("the design-effect test's p-value to %g", test_tolerance))
} else {
  skipped <- c(skipped, "the design-effect test's p-value")
}
"""

COMPARE_MODELS = """\
if (has_list) {
  for (method in names(job_models)) {
    job_model <- job_models[[method]]
    fit <- ictreg(model_formula, data = model_data, treat = "treat", J = J,
                  method = method)
    tolerance <- job_model$tolerance
    looser <- c(looser, sprintf("the %s model to %g", method, tolerance))
    cat("\\nModel (", method, "), sensitive item:\\n", sep = "")
    print(data.frame(term = job_model$coefficients$term,
                     coefficient = unname(fit$par.treat), se = unname(fit$se.treat)),
          digits = 10, row.names = FALSE)
    jc <- job_model$coefficients
    for (j in seq_len(nrow(jc))) {
      where <- paste0("model ", method, ", ", jc$term[j])
      agree(paste(where, "sensitive"), fit$par.treat[j], jc$sensitive[j], tolerance)
      agree(paste(where, "sensitive se"), fit$se.treat[j], jc$sensitive_se[j],
            tolerance)
      agree(paste(where, "control"), fit$par.control[j], jc$control[j], tolerance)
      agree(paste(where, "control se"), fit$se.control[j], jc$control_se[j], tolerance)
    }
    jp <- job_model$predicted
    for (r in seq_len(nrow(jp))) {
      rows <- if (jp$variable[r] == "overall") rep(TRUE, nrow(x)) else
        variables[[jp$variable[r]]][model_rows] %in% jp$level[r]
      ours <- predicted_share(fit, rows)
      where <- paste0("model ", method, ", predicted share, ", jp$variable[r], " = ",
                      jp$level[r])
      agree(where, ours[["estimate"]], jp$estimate[r], tolerance)
      agree(paste(where, "se"), ours[["se"]], jp$se[r], tolerance)
    }
  }
} else {
  skipped <- c(skipped, "the models")
}
"""

VERDICT = """\
cat("\\n")
if (length(disagreements) == 0) {
  cat("All figures agree to 1e-8",
      if (length(looser) > 0) paste0(" (", paste(looser, collapse = "; "), ")"),
      ".\\n", sep = "")
} else {
  cat(length(disagreements), " figures differ from the job's:\\n", sep = "")
  writeLines(paste0("  ", disagreements))
}
if (length(skipped) > 0) {
  cat("Not checked, for want of the list package: ",
      paste(skipped, collapse = " and "), ".\\n", sep = "")
}
# A non-zero exit status for a check run by Rscript; an R session stays open.
if (length(disagreements) > 0 && !interactive()) quit(status = 1)
"""
