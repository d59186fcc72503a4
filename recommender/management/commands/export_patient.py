"""Export one patient's whole record (patient, assessments, plans, doses, visits, history) as JSON."""

import json

from django.core.management.base import BaseCommand, CommandError

from recommender.clinic.selectors import patient_record_export
from recommender.models import Patient


class Command(BaseCommand):
    help = "Print the whole record of the patient with HOSPITAL_NUMBER as JSON (or write it to --output)."

    def add_arguments(self, parser):
        parser.add_argument("hospital_number")
        parser.add_argument("--output", help="file to write instead of standard output")

    def handle(self, *args, hospital_number, output=None, **options):
        try:
            patient = Patient.objects.get(hospital_number=hospital_number.strip().upper())
        except Patient.DoesNotExist:
            raise CommandError(f"No patient with hospital number {hospital_number!r}.") from None
        body = json.dumps(patient_record_export(patient=patient), indent=2, default=str, ensure_ascii=False)
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(body + "\n")
        else:
            self.stdout.write(body)
