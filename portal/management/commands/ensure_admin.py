"""Create the first superuser when there is none; safe to run on every start."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal import actions
from portal.audit import AuditContext


class Command(BaseCommand):
    help = (
        "Create a superuser (default 'admin') with a random password printed once, "
        "unless a superuser already exists. Also creates a Default team when there is none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@localhost")
        parser.add_argument("--team", default="Default", help="Name of the first team.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            created = actions.admin_ensure(
                ctx=AuditContext.system(),
                username=options["username"],
                email=options["email"],
                team_name=options["team"],
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        if created is None:
            self.stdout.write("A superuser exists already; nothing to do.")
            return
        user, password = created
        # stdout only, once: it is never stored in plain text or logged.
        self.stdout.write(
            f"Created superuser {user.get_username()} with password: {password}\n"
            "It is shown only this once; change it after signing in."
        )
