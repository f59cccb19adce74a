from survey.roles import ADMINISTRATOR, ANALYST, INTERVIEWER, user_roles


def roles(request):
    held = user_roles(request.user) if hasattr(request, "user") else set()
    return {
        "is_administrator": ADMINISTRATOR in held,
        "is_analyst": ANALYST in held or ADMINISTRATOR in held,
        "is_interviewer": INTERVIEWER in held,
    }
