"""Forms of the interview: registration, the count, and the covariate questions."""

from django import forms
from django.utils.translation import gettext_lazy as _

from fielding.models import Response
from survey.models import LANGUAGE_CHOICES, CovariateQuestion, Settlement


class RegisterForm(forms.Form):
    place = forms.ModelChoiceField(
        queryset=Settlement.objects.select_related("region"),
        label=_("Place of interview"),
    )
    language = forms.ChoiceField(label=_("Interview language"))
    external_id = forms.CharField(
        label=_("Respondent number (optional)"), required=False, max_length=100
    )
    consent = forms.BooleanField(
        label=_("The respondent agrees to take part."),
        required=False,
        help_text=_("Without consent the interview ends here and nothing is recorded."),
    )

    def __init__(self, *args, wave, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [
            (code, label)
            for code, label in LANGUAGE_CHOICES
            if code in wave.survey.languages
        ]


CHOOSE_COUNT = _("Choose how many, or why there is no count.")


class CountForm(forms.Form):
    """One choice: a count on the card's range, or why there is none.

    The card draws the choice as big buttons rather than as a field, and shows the
    form's errors above them; so a refused choice (a count past the card, nothing
    chosen) is among `non_field_errors`, saying what to do.
    """

    outcome = forms.ChoiceField(
        widget=forms.RadioSelect,
        label=_("How many?"),
        error_messages={"required": CHOOSE_COUNT, "invalid_choice": CHOOSE_COUNT},
    )

    def __init__(self, *args, top: int, **kwargs):
        super().__init__(*args, **kwargs)
        counts = [(str(n), str(n)) for n in range(top + 1)]
        others = [
            (Response.REFUSED, _("Refused")),
            (Response.DONT_KNOW, _("Don't know")),
            (Response.BROKEN_OFF, _("Interview broken off")),
        ]
        self.fields["outcome"].choices = counts + others
        self.count_choices, self.status_choices = counts, others

    def non_field_errors(self):
        return self.error_class(
            [*super().non_field_errors(), *self.errors.get("outcome", [])],
            error_class="nonfield",
            renderer=self.renderer,
        )

    def status_and_count(self) -> tuple[str, int | None]:
        outcome = self.cleaned_data["outcome"]
        if outcome.isdigit():
            return Response.COMPLETE, int(outcome)
        return outcome, None


class QuestionsForm(forms.Form):
    """The survey's covariate questions in the interview's language; all may be skipped."""

    def __init__(self, *args, survey, language: str, **kwargs):
        super().__init__(*args, **kwargs)
        for question in survey.questions.prefetch_related("choices"):
            label = (
                question.texts.get(language)
                or question.texts.get("en")
                or question.code
            )
            if question.kind == CovariateQuestion.CODED:
                choices = [(c.code, c.label(language)) for c in question.choices.all()]
                self.fields[question.code] = forms.ChoiceField(
                    label=label,
                    choices=choices,
                    required=False,
                    widget=forms.RadioSelect,
                )
            else:
                self.fields[question.code] = forms.FloatField(
                    label=label,
                    required=False,
                    min_value=question.min_value,
                    max_value=question.max_value,
                )
