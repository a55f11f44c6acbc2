"""Rotate the key that encrypts secrets at rest.

1. Add a fresh key at the front of the key file (old keys still decrypt).
2. Re-encrypt every secret with it, in one transaction.
3. With --drop-old, keep only the new key: from then on old ciphertexts (backups!)
   no longer decrypt, so drop only once the re-encryption has been verified.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal import actions, audit, crypto


class Command(BaseCommand):
    help = "Add a new encryption key, re-encrypt every secret with it, optionally drop old keys."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--drop-old", action="store_true", help="Afterwards keep only the new key."
        )
        parser.add_argument(
            "--reencrypt-only",
            action="store_true",
            help="Add no key; re-encrypt with the current first key (keys given by "
            f"{crypto.ENV_VAR}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ctx = audit.AuditContext.system()
        try:
            if not options["reencrypt_only"]:
                count = crypto.add_key()
                self.stdout.write(f"Added a new key; the ring now holds {count} keys.")
            done = actions.secrets_reencrypt(ctx=ctx)
            self.stdout.write(f"Re-encrypted {done} secrets with the newest key.")
            if options["drop_old"]:
                dropped = crypto.drop_old_keys()
                audit.record(
                    ctx,
                    action="encryption.drop_old_keys",
                    object_type="encryption",
                    object_repr="secrets at rest",
                    diff={"keys_dropped": dropped},
                )
                self.stdout.write(f"Dropped {dropped} old keys.")
        except crypto.KeyRingError as error:
            raise CommandError(str(error)) from None
