import secrets

from django.core.management.base import BaseCommand, CommandError

from countries.models import Mission
from countries.services import staff_user_upsert

DEMO_MISSION_REF = "am-yerevan-embassy"


class Command(BaseCommand):
    help = (
        "Create (or reset) two demo staff-panel logins with fresh random passwords and print them: the "
        "superuser 'crisis-centre' and 'staff-am', a member of the embassy in Armenia. For development."
    )

    def handle(self, *args, **options):
        mission = Mission.objects.filter(ref=DEMO_MISSION_REF).first()
        if mission is None:
            raise CommandError(f"Mission {DEMO_MISSION_REF!r} not found: run `manage.py load_reference_data` first.")
        logins = [("crisis-centre", True, ()), ("staff-am", False, (mission,))]
        self.stdout.write("Staff panel logins (new passwords on every run):")
        for username, superuser, missions in logins:
            password = secrets.token_urlsafe(12)
            staff_user_upsert(username=username, password=password, superuser=superuser, missions=missions)
            role = "superuser, all countries" if superuser else f"staff of {mission.name_en}"
            self.stdout.write(f"  {username} / {password}   ({role})")
