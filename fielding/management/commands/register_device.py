"""python manage.py register_device USERNAME [--label NAME]: a tablet's token, once."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from fielding.errors import FieldingError
from fielding.tokens import token_issue


class Command(BaseCommand):
    help = (
        "Register a tablet to an interviewer and print its token. The token is shown "
        "only now; the database keeps a hash of it."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--label", default="", help="the tablet's name or number")

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.", returncode=2)
        label = options["label"] or f"tablet of {user.get_username()}"
        try:
            token, raw = token_issue(user=user, label=label)
        except FieldingError as error:
            raise CommandError(str(error), returncode=2) from None
        self.stdout.write(f"Registered “{token.label}” to {user.get_username()}.")
        self.stdout.write(f"Token (shown once): {raw}")
