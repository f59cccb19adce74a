"""Surveys, list experiments and waves; also the Django project package."""

from survey.celery import app as celery_app

__all__ = ["celery_app"]

__version__ = "0.1.0"
