"""Tablet interviews online: register with consent, then the card, then the questions.

The card appears only after the respondent is registered and allocated; the pages of
one interview are shown in the interview's language, whatever the interviewer's own.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _

from fielding.allocation import respondent_register, slot_allocate
from fielding.card_steps import card_answer, card_step, step_card
from fielding.errors import FieldingError
from fielding.interview_forms import CountForm, QuestionsForm, RegisterForm
from fielding.interviewing import answers_record, card_show
from fielding.models import Assignment, Respondent
from survey.cards import card, default_order, list_codes, wave_snapshot
from survey.models import Wave
from survey.roles import ADMINISTRATOR, INTERVIEWER, has_role, role_required

interviewers = role_required(INTERVIEWER, ADMINISTRATOR)


def waves_for(user):
    waves = Wave.objects.filter(status=Wave.FIELDING).select_related("survey")
    if has_role(user, ADMINISTRATOR):
        return waves
    return waves.filter(interviewers=user)


def own_respondent(request, respondent_id: int) -> Respondent:
    respondent = get_object_or_404(
        Respondent.objects.select_related("wave__survey"), pk=respondent_id
    )
    if respondent.interviewer_id != request.user.pk and not has_role(
        request.user, ADMINISTRATOR
    ):
        raise PermissionDenied
    translation.activate(respondent.language or "en")
    request.LANGUAGE_CODE = translation.get_language()
    return respondent


@interviewers
def interview_home(request):
    return render(
        request, "fielding/interview_home.html", {"waves": waves_for(request.user)}
    )


@interviewers
def interview_new(request, wave_id: int):
    wave = get_object_or_404(waves_for(request.user), pk=wave_id)
    form = RegisterForm(request.POST or None, wave=wave)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            respondent = respondent_register(
                wave=wave,
                consented=data["consent"],
                interviewer=request.user,
                place=data["place"],
                language=data["language"],
                external_id=data["external_id"],
            )
            slot_allocate(respondent=respondent, user=request.user)
        except FieldingError as error:
            messages.warning(request, str(error))
            return redirect("fielding:interview-home")
        return redirect("fielding:interview-card", respondent_id=respondent.pk)
    return render(request, "fielding/interview_new.html", {"wave": wave, "form": form})


@interviewers
def interview_card(request, respondent_id: int):
    """The card and its count; a double list's second card follows the first."""
    respondent = own_respondent(request, respondent_id)
    assignment = Assignment.objects.select_related("experiment").get(
        respondent=respondent
    )
    if hasattr(assignment, "response"):
        return redirect("fielding:interview-questions", respondent_id=respondent.pk)

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
                return redirect("fielding:interview-card", respondent_id=respondent.pk)
            return redirect("fielding:interview-questions", respondent_id=respondent.pk)

    card_show(assignment=assignment)
    snapshot = wave_snapshot(respondent.wave)[assignment.experiment.code]
    shown = step_card(snapshot, respondent.language, assignment, step)
    return render(
        request,
        "fielding/interview_card.html",
        {"respondent": respondent, "card": shown, "form": form, "step": step},
    )


@interviewers
def interview_questions(request, respondent_id: int):
    respondent = own_respondent(request, respondent_id)
    if respondent.finished_at is not None:
        return redirect("fielding:interview-done", respondent_id=respondent.pk)
    # The questions, the direct question among them, come after the card(s).
    if not Assignment.objects.filter(
        respondent=respondent, response__isnull=False
    ).exists():
        return redirect("fielding:interview-card", respondent_id=respondent.pk)
    form = QuestionsForm(
        request.POST or None,
        survey=respondent.wave.survey,
        language=respondent.language,
    )
    if request.method == "POST" and form.is_valid():
        try:
            answers_record(respondent=respondent, answers=form.cleaned_data)
        except FieldingError as error:
            form.add_error(None, str(error))
        else:
            return redirect("fielding:interview-done", respondent_id=respondent.pk)
    return render(
        request,
        "fielding/interview_questions.html",
        {"respondent": respondent, "form": form},
    )


@interviewers
def interview_done(request, respondent_id: int):
    respondent = own_respondent(request, respondent_id)
    return render(request, "fielding/interview_done.html", {"respondent": respondent})


@role_required(INTERVIEWER, ADMINISTRATOR)
def show_cards(request, wave_id: int):
    """Printable show-cards, every list and arm, in one language."""
    wave = get_object_or_404(Wave.objects.select_related("survey"), pk=wave_id)
    if (
        not has_role(request.user, ADMINISTRATOR)
        and not wave.interviewers.filter(pk=request.user.pk).exists()
    ):
        raise PermissionDenied
    language = request.GET.get("language", "")
    if language not in wave.survey.languages:
        language = wave.survey.languages[0]
    cards = [
        (experiment["name"], label, shown)
        for experiment in wave_snapshot(wave).values()
        for arm in experiment["arms"]
        for label, shown in arm_cards(experiment, arm, language)
    ]
    return render(
        request,
        "fielding/show_cards.html",
        {"wave": wave, "cards": cards, "language": language, "title": _("Show-cards")},
    )


def arm_cards(experiment: dict, arm: str, language: str) -> list[tuple[str, object]]:
    """One arm's cards with their labels: one card, or a double list's two."""
    if experiment["design"] != "double":
        return [(arm, card(experiment, language, default_order(experiment, arm)))]
    return [
        (
            _("%(arm)s, list %(list)s") % {"arm": arm, "list": code},
            card(experiment, language, default_order(experiment, arm, code)),
        )
        for code in list_codes(experiment)
    ]
