from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import get_object_or_404, render

from survey.cards import card, card_problems, card_snapshot, default_order
from survey.models import Survey, Wave
from survey.roles import ADMINISTRATOR, ANALYST, has_role, role_required


@login_required
def home(request):
    """The waves a user may work on: all of them for administrators and analysts."""
    waves = Wave.objects.select_related("survey").annotate(
        n_respondents=Count("respondents")
    )
    if not has_role(request.user, ADMINISTRATOR, ANALYST):
        waves = waves.filter(interviewers=request.user)
    return render(request, "home.html", {"waves": waves.order_by("-created_at", "-id")})


@role_required(ADMINISTRATOR)
def cards_preview(request, survey_id: int):
    """Every card of the survey in every language, with the check run before opening."""
    survey = get_object_or_404(Survey, pk=survey_id)
    snapshot = card_snapshot(survey)
    previews = []
    for experiment in snapshot.values():
        for arm in experiment["arms"]:
            previews.append(
                {
                    "experiment": experiment["name"],
                    "arm": arm,
                    "cards": [
                        card(experiment, language, default_order(experiment, arm))
                        for language in survey.languages
                    ],
                }
            )
    context = {
        "survey": survey,
        "previews": previews,
        "problems": card_problems(snapshot, survey),
    }
    return render(request, "survey/cards_preview.html", context)
