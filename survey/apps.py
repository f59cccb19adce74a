from django.apps import AppConfig


class SurveyConfig(AppConfig):
    name = "survey"
    verbose_name = "Surveys and waves"

    def ready(self):
        from django.db.models.signals import post_migrate

        from survey.roles import groups_after_migrate

        post_migrate.connect(groups_after_migrate, dispatch_uid="survey-role-groups")
