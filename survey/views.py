from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import render

from survey.models import Wave
from survey.roles import ADMINISTRATOR, ANALYST, has_role


@login_required
def home(request):
    """The waves a user may work on: all of them for administrators and analysts."""
    waves = Wave.objects.select_related("survey").annotate(
        n_respondents=Count("respondents")
    )
    if not has_role(request.user, ADMINISTRATOR, ANALYST):
        waves = waves.filter(interviewers=request.user)
    return render(request, "home.html", {"waves": waves.order_by("-created_at", "-id")})
