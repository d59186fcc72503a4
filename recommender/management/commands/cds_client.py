"""Register, list and remove the EHRs allowed to call the CDS Hooks service (their JWT issuer and public keys)."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from recommender.interop.cds.security import jwks_load
from recommender.interop.cds.services import cds_client_deactivate, cds_client_register
from recommender.models import CdsClient


class Command(BaseCommand):
    help = "Manage CDS Hooks clients: add --issuer ISS --jwks-file FILE [--jku URL] [--origin URL]; list; remove ISS."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="register a client, or replace a registered one's keys")
        add.add_argument("--issuer", required=True, help="the 'iss' of the client's JWTs, exactly")
        add.add_argument("--jwks-file", required=True, help="a JSON Web Key Set file with the client's public keys")
        add.add_argument("--jku", action="append", default=[], help="a key-set URL its JWTs may name (repeatable)")
        add.add_argument("--origin", default="", help="the EHR's browser origin for CORS, e.g. https://ehr.example")
        add.add_argument("--name", default="")
        actions.add_parser("list", help="list the registered clients")
        remove = actions.add_parser("remove", help="deactivate a client: its JWTs are refused from now on")
        remove.add_argument("issuer")

    def handle(self, *args, action, **options):
        getattr(self, f"_{action}")(**options)

    def _add(self, *, issuer, jwks_file, jku, origin, name, **options):
        try:
            jwks = jwks_load(Path(jwks_file).read_text())
        except OSError as error:
            raise CommandError(f"Cannot read {jwks_file}: {error.strerror}.") from None
        except ValueError as error:
            raise CommandError(f"{jwks_file}: {error}") from None
        try:
            client, created = cds_client_register(issuer=issuer, jwks=jwks, allowed_jku=jku, origin=origin, name=name)
        except ValidationError as error:
            raise CommandError("; ".join(f"{f}: {' '.join(m)}" for f, m in error.message_dict.items())) from None
        keys = len(jwks["keys"])
        self.stdout.write(f"{'Registered' if created else 'Updated'} {client.issuer} ({keys} key{'s' * (keys != 1)}).")

    def _list(self, **options):
        for client in CdsClient.objects.all():
            kids = ", ".join(str(key.get("kid")) for key in client.jwks.get("keys", []))
            state = "active" if client.active else "inactive"
            self.stdout.write(f"{client.issuer}\t{state}\tkeys: {kids}\torigin: {client.origin or '-'}")

    def _remove(self, *, issuer, **options):
        if not cds_client_deactivate(issuer=issuer):
            raise CommandError(f"No CDS client with issuer {issuer!r}.")
        self.stdout.write(f"Deactivated {issuer}: its JWTs are refused from now on.")
