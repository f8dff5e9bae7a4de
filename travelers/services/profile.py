"""The traveler's own profile."""

from __future__ import annotations

from django.db import transaction

from travelers.models import Traveler


@transaction.atomic
def traveler_profile_update(
    *,
    traveler: Traveler,
    full_name: str | None = None,
    email: str | None = None,
    language: str | None = None,
    emergency_contact_name: str | None = None,
    emergency_contact_phone: str | None = None,
    emergency_contact_relation: str | None = None,
) -> Traveler:
    """Change the given parts of the profile (`None`: unchanged, "": cleared). The phone, the id and the
    dates are not the traveler's to change here: a new phone means signing in with it."""
    changes = {
        "full_name": full_name,
        "email": email,
        "language": language,
        "emergency_contact_name": emergency_contact_name,
        "emergency_contact_phone": emergency_contact_phone,
        "emergency_contact_relation": emergency_contact_relation,
    }
    changes = {name: value.strip() if isinstance(value, str) else value for name, value in changes.items()}
    changes = {name: value for name, value in changes.items() if value is not None}
    for name, value in changes.items():
        setattr(traveler, name, value)
    if changes:
        traveler.full_clean(exclude=[f.name for f in Traveler._meta.fields if f.name not in changes])
        traveler.save(update_fields=list(changes))
    return traveler
