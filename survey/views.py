from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from survey.models import Wave


@login_required
def home(request):
    waves = Wave.objects.select_related("survey").order_by("-created_at", "-id")
    return render(request, "home.html", {"waves": waves})
