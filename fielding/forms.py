from django import forms
from django.core.management.base import CommandError
from django.utils.translation import gettext_lazy as _

from fielding.importing import size_problem
from survey.cli import distinct, several
from survey.models import Wave


class ImportForm(forms.Form):
    """The web form of ``import_responses``: a file and which columns hold what."""

    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8 (with or without BOM), comma or semicolon separated, header on line 1."
        ),
    )
    wave = forms.ModelChoiceField(
        queryset=Wave.objects.filter(status=Wave.DRAFT),
        required=False,
        label=_("Fill this draft wave"),
        help_text=_("Leave empty to make a new survey and wave named after the file."),
    )
    items = forms.IntegerField(
        min_value=1, max_value=50, label=_("Control items (J)"), initial=3
    )
    outcome = forms.CharField(label=_("Count column"), initial="y")
    treat = forms.CharField(
        label=_("Treatment column"),
        initial="treat",
        help_text=_("1 treatment, 0 control."),
    )
    id_column = forms.CharField(label=_("Respondent id column"), required=False)
    covariates = forms.CharField(
        label=_("Coded covariate columns"),
        required=False,
        help_text=_("Comma-separated."),
    )
    numeric = forms.CharField(
        label=_("Numeric covariate columns"),
        required=False,
        help_text=_("Comma-separated."),
    )
    weight = forms.CharField(label=_("Weight column"), required=False)
    place = forms.CharField(
        label=_("Place column"), required=False, help_text=_("Settlement code or name.")
    )
    arms = forms.CharField(
        label=_("Arms (several sensitive items)"),
        required=False,
        help_text=_(
            "Comma-separated, control first, e.g. control,race,affirm: the treatment "
            "column then names each row's arm."
        ),
    )
    second_outcome = forms.CharField(
        label=_("Second list: count column"),
        required=False,
        help_text=_("A double list: every respondent answered two lists."),
    )
    second_treat = forms.CharField(
        label=_("Second list: treatment column"),
        required=False,
        help_text=_(
            "1 when the sensitive item was on the second list; exactly one of the two "
            "treatment columns is 1."
        ),
    )
    second_items = forms.IntegerField(
        min_value=1,
        max_value=50,
        required=False,
        label=_("Second list: control items (J)"),
        help_text=_("Leave empty when it is the same as the first list's."),
    )
    direct = forms.CharField(
        label=_("Direct question column"),
        required=False,
        help_text=_("1 yes, 0 no, empty when not answered."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        problem = size_problem(upload.size)
        if problem:
            raise forms.ValidationError(problem)
        return upload

    def clean_covariates(self):
        # Column names: a column named twice is one covariate, so the repeat goes.
        return tuple(several([self.cleaned_data["covariates"]]))

    def clean_numeric(self):
        return tuple(several([self.cleaned_data["numeric"]]))

    def clean_arms(self):
        """Arms named once each: ``control,race,race`` is a typing mistake.

        Dropping the repeat would import a design with fewer arms than the person
        meant, so the form says which arm is repeated instead.
        """
        try:
            return tuple(
                distinct([self.cleaned_data["arms"]], str(self.fields["arms"].label))
            )
        except CommandError as error:
            raise forms.ValidationError(str(error)) from None

    def clean(self):
        data = super().clean()
        outcome, treat = data.get("second_outcome"), data.get("second_treat")
        if bool(outcome and outcome.strip()) != bool(treat and treat.strip()):
            raise forms.ValidationError(
                _("A second list needs both its count column and its treatment column.")
            )
        return data
