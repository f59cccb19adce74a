from django import forms
from django.utils.translation import gettext_lazy as _

from analysis.comparison import earlier_waves, wave_date
from analysis.selectors import breakdown_options


class EstimateForm(forms.Form):
    """What to estimate for a wave: breakdowns, design, differences, tests, models,
    the direct question and the balance of covariates across arms."""

    experiment = forms.ChoiceField(label=_("List experiment"))
    by = forms.MultipleChoiceField(
        label=_("Break down by"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Each chosen variable gives an estimate within each of its levels."
        ),
    )
    weighted = forms.BooleanField(
        label=_("Use the wave's design: weights, strata and cluster"),
        required=False,
        help_text=_("Hajek weighted means with linearization standard errors."),
    )
    compare = forms.CharField(
        label=_("Differences between groups"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line as variable:A,B, e.g. gender:1,2 gives 1 minus 2."),
    )
    design_test = forms.BooleanField(
        label=_("Test for design effects (Blair and Imai), floor and ceiling"),
        required=False,
    )
    gms = forms.BooleanField(
        label=_("with generalized moment selection"), required=False, initial=True
    )
    model = forms.ChoiceField(
        label=_("Regression model"),
        required=False,
        choices=[
            ("", _("none")),
            ("lm", _("linear")),
            ("ml", _("maximum likelihood (shown beside the linear one)")),
        ],
    )
    covariates = forms.MultipleChoiceField(
        label=_("Model covariates"), required=False, widget=forms.CheckboxSelectMultiple
    )
    predict_by = forms.ChoiceField(label=_("Predicted proportions by"), required=False)
    direct = forms.BooleanField(
        label=_("Compare with the direct question"),
        required=False,
        help_text=_(
            "For a list experiment whose respondents were also asked the sensitive "
            "item directly: the direct share, the sensitivity bias and the combined "
            "estimate with its two placebo tests."
        ),
    )
    balance = forms.MultipleChoiceField(
        label=_("Check the balance across arms of"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Each covariate by arm with a test, one joint test of all of them, and "
            "refusals and don't-knows by arm. A small p-value is shown as a warning "
            "before the estimates."
        ),
    )

    def __init__(self, *args, wave, **kwargs):
        super().__init__(*args, **kwargs)
        self.wave = wave
        experiments = list(wave.survey.experiments.order_by("position", "id"))
        self.fields["experiment"].choices = [(e.pk, e.name) for e in experiments]
        self.experiments = {str(e.pk): e for e in experiments}
        kinds = {
            "covariate": _("question"),
            "recode": _("recode"),
            "fielding": _("fieldwork"),
        }
        options = breakdown_options(wave.survey)
        self.fields["by"].choices = [
            (o.key, f"{o.label} · {kinds[o.kind]}") for o in options
        ]
        self.fields["predict_by"].choices = [("", "—")] + [
            (o.key, o.label) for o in options
        ]
        questions = [(q.code, q.code) for q in wave.survey.questions.all()]
        recodes = [(r.name, r.name) for r in wave.survey.recodes.all()]
        self.fields["covariates"].choices = questions + recodes
        self.fields["balance"].choices = questions + recodes

    def clean_experiment(self):
        return self.experiments[self.cleaned_data["experiment"]]

    def clean_compare(self):
        triples = []
        for line in self.cleaned_data["compare"].splitlines():
            if not line.strip():
                continue
            variable, _sep, levels = line.partition(":")
            parts = [p.strip() for p in levels.split(",")]
            if not variable.strip() or len(parts) != 2 or not all(parts):
                raise forms.ValidationError(
                    _("Write each difference as variable:A,B, not “%(line)s”.")
                    % {"line": line.strip()}
                )
            if parts[0] == parts[1]:
                raise forms.ValidationError(
                    _("Compare two different groups, not “%(line)s”.")
                    % {"line": line.strip()}
                )
            triples.append((variable.strip(), parts[0], parts[1]))
        return triples

    def clean(self):
        data = super().clean()
        if (data.get("covariates") or data.get("predict_by")) and not data.get("model"):
            self.add_error("model", _("Choose a model for the covariates."))
        experiment = data.get("experiment")
        if data.get("direct") and experiment and experiment.direct_question_id is None:
            self.add_error(
                "direct",
                _("“%(experiment)s” has no direct question to compare with.")
                % {"experiment": experiment.name},
            )
        return data

    def job_options(self) -> dict:
        data = self.cleaned_data
        return {
            "experiment": data["experiment"],
            "by": data["by"],
            "weighted": data["weighted"],
            "compare": data["compare"],
            "design_test": data["design_test"],
            "gms": data["gms"],
            "model": data["model"] or None,
            "covariates": data["covariates"],
            "predict_by": [data["predict_by"]] if data["predict_by"] else [],
            "direct": data["direct"],
            "balance": data["balance"],
        }


class CompareForm(forms.Form):
    """The earlier wave to compare a wave with, and the breakdowns to compare.

    Only the survey's waves that came before this one are offered (see
    `analysis.comparison.wave_order`); any other wave posted is refused here, before
    a job is saved.
    """

    earlier = forms.ChoiceField(
        label=_("Earlier wave"),
        help_text=_(
            "The survey's waves that went to the field before this one, with their "
            "first day; the change is this wave minus the wave chosen."
        ),
        error_messages={
            "invalid_choice": _(
                "Choose one of the survey's waves that went to the field before "
                "this one."
            )
        },
    )
    experiment = forms.ChoiceField(label=_("List experiment"))
    by = forms.MultipleChoiceField(
        label=_("Break down by"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "The change is given overall and within each level found in both waves."
        ),
    )
    weighted = forms.BooleanField(
        label=_("Use each wave's design: weights, strata and cluster"),
        required=False,
    )

    def __init__(self, *args, wave, **kwargs):
        super().__init__(*args, **kwargs)
        earlier = earlier_waves(wave)
        self.waves = {str(w.pk): w for w in earlier}
        self.fields["earlier"].choices = [
            (w.pk, f"{w.name} ({wave_date(w).isoformat()})") for w in earlier
        ]
        experiments = list(wave.survey.experiments.order_by("position", "id"))
        self.experiments = {str(e.pk): e for e in experiments}
        self.fields["experiment"].choices = [(e.pk, e.name) for e in experiments]
        self.fields["by"].choices = [
            (o.key, o.label) for o in breakdown_options(wave.survey)
        ]

    def clean_earlier(self):
        return self.waves[self.cleaned_data["earlier"]]

    def clean_experiment(self):
        return self.experiments[self.cleaned_data["experiment"]]
