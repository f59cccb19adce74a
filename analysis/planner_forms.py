"""The wave planner's form: the assumptions a draft wave is planned under."""

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from analysis.planning.power import (
    DEFAULT_ALPHA,
    DEFAULT_POWER,
    MAX_N,
    PlanningError,
    target_se,
)
from analysis.planning.rehearsal import DEFAULT_DRAWS, DEFAULT_SEED, MAX_DRAWS
from analysis.planning.waves import contrast_choices, default_contrasts
from fielding.sequences import MAX_SEED, PlanError, parse_ratio

#: An MDE of 10 percentage points: the size of change the founding memo asks about.
DEFAULT_TARGET_MDE = 0.10

MDE, SE = "mde", "se"

#: Where each input a PlanningError names is shown; others go above the form.
ERROR_FIELDS = {
    "source": "source",
    "count_distribution": "source",
    "prevalence": "prevalence",
    "change": "change",
    "ratio": "ratio",
    "allocation": "ratio",
    "contrast": "contrasts",
    "target": "target",
    "total": "total",
    "alpha": "alpha",
    "power": "power",
    "draws": "draws",
    "seed": "seed",
    "deflators": "deflators",
}


class PlanForm(forms.Form):
    """Plan a draft wave from a source wave: prevalence, ratio, contrasts, target.

    The rehearsal's fields (draws, seed, deflators) ride along; the planner page
    shows them only beside its "Rehearse" button.
    """

    source = forms.ChoiceField(
        label=_("Source wave"),
        help_text=_(
            "A wave of this survey with responses: its control lists, prevalences "
            "and estimates are the starting point."
        ),
        error_messages={
            "invalid_choice": _(
                "Choose a wave of this survey that has responses to plan from."
            )
        },
    )
    prevalence = forms.FloatField(
        label=_("Prevalence in the new wave"),
        required=False,
        min_value=0,
        max_value=1,
        help_text=_(
            "A share between 0 and 1, the same in every stratum. Leave blank to "
            "take each stratum's estimate from the source wave."
        ),
    )
    change = forms.FloatField(
        label=_("Expected change from the source wave"),
        required=False,
        min_value=-1,
        max_value=1,
        help_text=_(
            "Instead of a prevalence: -0.10 for a fall of ten points. Each stratum's "
            "prevalence becomes its source estimate plus this, and the power is for "
            "detecting the change."
        ),
    )
    ratio = forms.CharField(
        label=_("Allocation ratio, treatment:control"),
        max_length=20,
        help_text=_("From the draft's randomization plan; such as 1:1 or 2:1."),
    )
    contrasts = forms.MultipleChoiceField(
        label=_("Differences between strata"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    target_kind = forms.ChoiceField(
        label=_("Target"),
        choices=[
            (MDE, _("minimum detectable effect")),
            (SE, _("standard error")),
        ],
        initial=MDE,
    )
    target = forms.FloatField(
        label=_("Target value"),
        required=False,
        min_value=0,
        help_text=_(
            "A share, such as 0.10 for ten percentage points: the respondents needed "
            "to reach it are shown per stratum, overall and per difference."
        ),
    )
    total = forms.IntegerField(
        label=_("Total respondents"),
        required=False,
        min_value=1,
        max_value=MAX_N,
        help_text=_(
            "Leave blank to plan the draft's quotas. A total is split in proportion "
            "to the quotas, or by the source wave's shares when quotas are missing."
        ),
    )
    alpha = forms.FloatField(
        label=_("Level of the test (two-sided)"),
        initial=DEFAULT_ALPHA,
        min_value=0.0001,
        max_value=0.5,
    )
    power = forms.FloatField(
        label=_("Power for the MDE"),
        initial=DEFAULT_POWER,
        min_value=0.5,
        max_value=0.9999,
    )
    draws = forms.IntegerField(
        label=_("Synthetic waves"),
        required=False,
        min_value=2,
        max_value=MAX_DRAWS,
        initial=DEFAULT_DRAWS,
        help_text=_("2,000 put the coverage's Monte Carlo error at about 0.5 points."),
    )
    seed = forms.IntegerField(
        label=_("Seed"),
        required=False,
        min_value=0,
        max_value=MAX_SEED - 1,
        initial=DEFAULT_SEED,
        help_text=_("The same seed gives the same rehearsal."),
    )
    deflators = forms.FloatField(
        label=_("Share hiding at the ceiling"),
        required=False,
        min_value=0,
        max_value=1,
        initial=0,
        help_text=_(
            "Of treated respondents who hold every item, the share who report one "
            "fewer (ceiling effect). 0 for honest answers."
        ),
    )

    PLAN_FIELDS = (
        "source",
        "prevalence",
        "change",
        "ratio",
        "contrasts",
        "target_kind",
        "target",
        "total",
        "alpha",
        "power",
    )
    REHEARSAL_FIELDS = ("draws", "seed", "deflators")

    def __init__(self, *args, draft, sources, names, **kwargs):
        super().__init__(*args, **kwargs)
        self.draft = draft
        self.sources = {str(w.pk): w for w in sources}
        self.fields["source"].choices = [(w.pk, w.name) for w in sources]
        codes = draft.codes or list(names)
        self.fields["contrasts"].choices = contrast_choices(codes, names)

    @classmethod
    def defaults(cls, draft, sources) -> QueryDict:
        """The form's data when the page is first opened: the most recent source
        wave, the draft's ratio, its default contrasts and an MDE of 0.10."""
        data = QueryDict(mutable=True)
        if sources:
            data["source"] = str(sources[0].pk)
        data["ratio"] = f"{draft.ratio[0]}:{draft.ratio[1]}"
        data.setlist("contrasts", default_contrasts(draft))
        data["target_kind"] = MDE
        data["target"] = str(DEFAULT_TARGET_MDE)
        data["alpha"] = str(DEFAULT_ALPHA)
        data["power"] = str(DEFAULT_POWER)
        data["draws"] = str(DEFAULT_DRAWS)
        data["seed"] = str(DEFAULT_SEED)
        data["deflators"] = "0"
        return data

    @classmethod
    def from_query(cls, query: QueryDict, draft, sources) -> QueryDict:
        """The planner's query string with every input it lacks taken from
        `defaults`, so a bookmarked or hand-written address asking for one change
        (``?source=2``) plans with the page's defaults for the rest.

        An input present but empty stays empty: the page's form sends every box,
        blank or not. The differences between strata are tick boxes, which send
        nothing when none is ticked, so they are never filled in.
        """
        data = query.copy()
        defaults = cls.defaults(draft, sources)
        for name in defaults:
            if name != "contrasts" and name not in data:
                data.setlist(name, defaults.getlist(name))
        return data

    def plan_is_valid(self) -> bool:
        """Whether the planning inputs are valid, whatever the rehearsal's are.

        The rehearsal's form is shown under the plan, so a rehearsal refused for
        its own fields must still plan: otherwise its errors would have no form to
        stand beside.
        """
        return set(self.errors) <= set(self.REHEARSAL_FIELDS)

    def plan_fields(self):
        return [self[name] for name in self.PLAN_FIELDS]

    def rehearsal_fields(self):
        return [self[name] for name in self.REHEARSAL_FIELDS]

    def carried(self) -> list[tuple[str, str]]:
        """The planning inputs as (name, value) pairs, for hidden fields that carry
        them into the rehearsal's form."""
        pairs = []
        for name in self.PLAN_FIELDS:
            getter = getattr(self.data, "getlist", None)
            values = getter(name) if getter else [self.data.get(name, "")]
            pairs += [(name, value) for value in values]
        return pairs

    def clean_source(self):
        return self.sources[self.cleaned_data["source"]]

    def clean_ratio(self):
        text = self.cleaned_data["ratio"]
        try:
            shares = parse_ratio(text)
        except PlanError:
            shares = ()
        if len(shares) != 2 or min(shares) < 1:
            raise forms.ValidationError(
                _(
                    "Give treatment:control as two whole numbers of at least 1, "
                    "such as 1:1 or 2:1."
                )
            )
        return shares

    def clean(self):
        data = super().clean()
        if data.get("prevalence") is not None and data.get("change") is not None:
            self.add_error(
                "change", _("Give a prevalence or an expected change, not both.")
            )

        data["target_se"] = None
        value = data.get("target")
        if value is not None and "alpha" in data and "power" in data:
            kind = data.get("target_kind") or MDE
            try:
                data["target_se"] = target_se(
                    se=value if kind == SE else None,
                    mde=value if kind == MDE else None,
                    alpha=data["alpha"],
                    power=data["power"],
                )
            except PlanningError as error:
                self.add_error("target", str(error))

        for name, default in (
            ("draws", DEFAULT_DRAWS),
            ("seed", DEFAULT_SEED),
            ("deflators", 0.0),
        ):
            if name in data and data[name] is None:
                data[name] = default
        return data

    def add_planning_error(self, error: PlanningError) -> None:
        """Show a refusal from the planning functions beside the input it names."""
        name = ERROR_FIELDS.get(error.field)
        if name == "prevalence" and self.cleaned_data.get("change") is not None:
            name = "change"
        if error.field == "n" and self.cleaned_data.get("total") is not None:
            name = "total"
        self.add_error(name, str(error))
