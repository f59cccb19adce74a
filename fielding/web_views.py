"""Web self-completion: an administrator makes single-use links; a respondent answers.

A respondent's pages need no login: the link is the key. An unknown or used link, or
a closed wave, gets a plain page in the respondent's language, never an error page.
"""

import csv
import io

from django import forms
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fielding.allocation import respondent_register, slot_allocate
from fielding.card_steps import card_answer, card_step, step_card
from fielding.errors import FieldingError
from fielding.interview_forms import CountForm, QuestionsForm
from fielding.interviewing import answers_record, card_show
from fielding.models import Assignment, WebLink
from fielding.weblinks import weblink_find, weblink_use, weblinks_create
from survey.cards import wave_snapshot
from survey.models import LANGUAGE_CHOICES, Stratum, Wave
from survey.roles import ADMINISTRATOR, role_required


class LinksForm(forms.Form):
    n = forms.IntegerField(
        label=gettext_lazy("How many links"), min_value=1, max_value=10_000
    )
    stratum = forms.ModelChoiceField(
        queryset=Stratum.objects.none(),
        required=False,
        label=gettext_lazy("Stratum (optional)"),
    )

    def __init__(self, *args, wave, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stratum"].queryset = wave.strata.all()


@role_required(ADMINISTRATOR)
def links_new(request, wave_id: int):
    wave = get_object_or_404(Wave.objects.open_for_changes(), pk=wave_id)
    form = LinksForm(request.POST or None, wave=wave)
    if request.method == "POST" and form.is_valid():
        stratum = form.cleaned_data["stratum"]
        try:
            tokens = weblinks_create(
                wave=wave, n=form.cleaned_data["n"], stratum=stratum
            )
        except FieldingError as error:
            form.add_error(None, str(error))
        else:
            return links_csv(request, wave, tokens, stratum)
    links = WebLink.objects.filter(wave=wave)
    context = {
        "wave": wave,
        "form": form,
        "made": links.count(),
        "used": links.filter(used_at__isnull=False).count(),
    }
    return render(request, "fielding/web/links_new.html", context)


def links_csv(request, wave: Wave, tokens: list[str], stratum) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["link", "stratum"])
    for token in tokens:
        url = request.build_absolute_uri(reverse("fielding:web-start", args=[token]))
        writer.writerow([url, stratum.code if stratum else ""])
    response = HttpResponse(
        "\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="wave{wave.pk}-links.csv"'
    return response


def plain(request, message: str, status: int = 200):
    return render(
        request, "fielding/web/message.html", {"message": message}, status=status
    )


def respondent_language(request, link: WebLink | None) -> str:
    """The language the respondent chose, else the browser's if the survey has it."""
    languages = (
        link.wave.survey.languages if link else [code for code, _l in LANGUAGE_CHOICES]
    )
    if link is not None and link.respondent_id:
        chosen = link.respondent.language
    else:
        chosen = request.POST.get("language") or request.GET.get("language") or ""
    if chosen not in languages:
        browser = translation.get_language_from_request(request)
        chosen = browser if browser in languages else languages[0]
    translation.activate(chosen)
    request.LANGUAGE_CODE = chosen
    return chosen


def open_link(request, token: str):
    """The link and its language, or a plain page saying why it cannot be used."""
    link = weblink_find(token)
    language = respondent_language(request, link)
    if link is None:
        return None, plain(
            request, _("This link is not known. Please check the address."), 404
        )
    if link.used_at is not None:
        return None, plain(
            request, _("This link has been used already. Thank you."), 410
        )
    if link.wave.status != Wave.FIELDING:
        return None, plain(request, _("This survey is not open at the moment."), 410)
    link.language = language
    return link, None


def web_start(request, token: str):
    link, refusal = open_link(request, token)
    if refusal:
        return refusal
    if link.respondent_id:
        return redirect("fielding:web-card", token=token)

    error = ""
    if request.method == "POST":
        try:
            respondent = respondent_register(
                wave=link.wave,
                consented=request.POST.get("consent") == "1",
                stratum=link.stratum,
                language=link.language,
                mode=Wave.WEB,
            )
        except FieldingError as problem:
            error = str(problem)
        else:
            WebLink.objects.filter(pk=link.pk, respondent__isnull=True).update(
                respondent=respondent
            )
            slot_allocate(respondent=respondent, device_label="web")
            return redirect("fielding:web-card", token=token)

    languages = [
        (c, label) for c, label in LANGUAGE_CHOICES if c in link.wave.survey.languages
    ]
    context = {
        "languages": languages,
        "language": link.language,
        "survey_name": link.wave.survey.name,
        "error": error,
    }
    return render(request, "fielding/web/start.html", context)


def web_card(request, token: str):
    link, refusal = open_link(request, token)
    if refusal:
        return refusal
    if not link.respondent_id:
        return redirect("fielding:web-start", token=token)
    assignment = Assignment.objects.select_related("experiment").get(
        respondent=link.respondent
    )
    if hasattr(assignment, "response"):
        return redirect("fielding:web-questions", token=token)

    step = card_step(request.session, assignment)
    # A post with nothing chosen is still a post: it gets its error, not a fresh card.
    posted = request.POST if request.method == "POST" else None
    form = CountForm(posted, top=step.top)
    if request.method == "POST" and form.is_valid():
        status, count = form.status_and_count()
        try:
            stored = card_answer(
                request.session,
                assignment=assignment,
                step=step,
                status=status,
                count=count,
            )
        except FieldingError as error:
            form.add_error(None, str(error))
        else:
            if not stored:
                return redirect("fielding:web-card", token=token)
            return redirect("fielding:web-questions", token=token)

    card_show(assignment=assignment)
    snapshot = wave_snapshot(link.wave)[assignment.experiment.code]
    shown = step_card(snapshot, link.language, assignment, step)
    return render(
        request, "fielding/web/card.html", {"card": shown, "form": form, "step": step}
    )


def web_questions(request, token: str):
    link, refusal = open_link(request, token)
    if refusal:
        return refusal
    if not link.respondent_id:
        return redirect("fielding:web-start", token=token)
    respondent = link.respondent
    if not Assignment.objects.filter(
        respondent=respondent, response__isnull=False
    ).exists():
        return redirect("fielding:web-card", token=token)

    form = QuestionsForm(
        request.POST or None, survey=link.wave.survey, language=link.language
    )
    if request.method == "POST" and form.is_valid():
        try:
            answers_record(respondent=respondent, answers=form.cleaned_data)
        except FieldingError as error:
            form.add_error(None, str(error))
        else:
            weblink_use(link=link)
            return plain(
                request, _("Your answers are saved. Thank you for taking part.")
            )
    return render(request, "fielding/web/questions.html", {"form": form})
