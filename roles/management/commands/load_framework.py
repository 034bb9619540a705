from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from competencies.loading import FixtureError, load_framework
from roles.loading import load_role_profile


class Command(BaseCommand):
    help = "Load the competency framework and the role profiles from fixtures/ (existing records are left as they are)."

    def handle(self, *args, **options):
        fixtures = settings.FIXTURES_DIR
        try:
            created = load_framework(fixtures / "framework.json")
            self.stdout.write(f"Competencies created: {len(created)}")
            for path in sorted((fixtures / "role-profiles").glob("*.json")):
                version = load_role_profile(path)
                self.stdout.write(f"{path.name}: {'created ' + version.title if version else 'already loaded'}")
        except FixtureError as error:
            raise CommandError(str(error)) from error
