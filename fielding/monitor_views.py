"""The fieldwork monitor: a page for administrators and the same data as JSON."""

from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render

from fielding.monitor import wave_monitor
from survey.models import Wave
from survey.roles import ADMINISTRATOR, role_required


@role_required(ADMINISTRATOR)
def wave_monitor_page(request, wave_id: int):
    wave = get_object_or_404(Wave.objects.select_related("survey"), pk=wave_id)
    return render(
        request,
        "fielding/monitor.html",
        {"wave": wave, "monitor": wave_monitor(wave)},
    )


@role_required(ADMINISTRATOR)
def wave_monitor_json(request, wave_id: int):
    wave = get_object_or_404(Wave.objects.select_related("survey"), pk=wave_id)
    return JsonResponse(wave_monitor(wave))
