"""The Celery application.

Celery is used only when ``REDIS_URL`` is set; without it, jobs run in a thread of the
web process (see ``analysis.runner``). Task modules are found in each app's ``tasks``.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "survey.settings")

app = Celery("listexp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
