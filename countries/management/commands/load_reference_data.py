from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from countries.reference import DATA_DIR, ReferenceDataError, reference_data_load, reference_data_read


class Command(BaseCommand):
    help = (
        "Load the versioned reference data (countries/data/): every ISO country, content and missions. "
        "Idempotent: an unchanged file writes nothing, and fields staff edited keep their values unless the "
        "file changed them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="Directory with countries.json.")
        parser.add_argument(
            "--reset", action="store_true", help="Apply every value from the file, overwriting staff edits."
        )

    def handle(self, *args, data_dir: Path, reset: bool, **options):
        try:
            data = reference_data_read(data_dir)
        except (ReferenceDataError, OSError, ValueError) as exc:
            raise CommandError(f"Invalid reference data: {exc}") from exc
        report = reference_data_load(data=data, reset=reset)
        self.stdout.write(report.summary())
