from django import forms
from django.utils.translation import gettext_lazy as _

from analysis.selectors import breakdown_options


class EstimateForm(forms.Form):
    """What to estimate for a wave: the list experiment and the breakdowns."""

    experiment = forms.ChoiceField(label=_("List experiment"))
    by = forms.MultipleChoiceField(
        label=_("Break down by"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Each chosen variable gives an estimate within each of its levels."
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
        self.fields["by"].choices = [
            (o.key, f"{o.label} · {kinds[o.kind]}")
            for o in breakdown_options(wave.survey)
        ]

    def clean_experiment(self):
        return self.experiments[self.cleaned_data["experiment"]]
