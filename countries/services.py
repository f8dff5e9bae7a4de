"""Writes and rules of the countries app: the cached offline pack, its invalidation, and its contributors.

The offline pack of a country is rendered once per (country, language) and kept in the Django cache (Redis in
production) as (generation, bytes, ETag). The ETag is a hash of the bytes, so rebuilding unchanged content
keeps it. A per-country generation number, read in the same round trip as the pack, makes invalidation safe
against a rebuild racing an edit: `country_packs_invalidate` bumps the generation after the edit commits,
and a pack built from older data carries the older generation and is ignored. The cache timeout is bounded by
the next opening or closing of any of the country's missions, so `open_now` is never stale, and by
COUNTRY_PACK_CACHE_SECONDS.

Other apps add to the pack without this app importing them: they register a contributor (from their
AppConfig.ready()) returning extra top-level keys, e.g. `{"alerts": [...]}`, and call
`country_pack_invalidate(code=...)` whenever that data changes. A contributor's `schema_fields` attribute,
{key: callable returning a serializer field}, gives those keys their shape in the pack's OpenAPI schema.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import NotFoundError
from countries.models import Country, StaffMembership
from countries.representation import country_pack_document
from countries.selectors import country_for_pack

PackContributor = Callable[[str, str], dict[str, Any]]
# (country_code, language) -> extra top-level keys of the pack. Appended to by other apps' AppConfig.ready().
PACK_CONTRIBUTORS: list[PackContributor] = []

PACK_FORMAT = 1  # part of the cache key: bump when the pack's shape changes
_CODE = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class CountryPack:
    body: bytes
    etag: str  # strong, quoted


def render_json(document: Any) -> bytes:
    """Compact UTF-8 JSON, byte for byte what DRF's JSONRenderer writes (the pack's ETag is its hash)."""
    text = json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


def pack_contributor_register(contributor: PackContributor) -> None:
    """Add a contributor once (ready() may run more than once in tests)."""
    if contributor not in PACK_CONTRIBUTORS:
        PACK_CONTRIBUTORS.append(contributor)


def pack_cache_key(code: str, language: str) -> str:
    return f"countries:pack:{PACK_FORMAT}:{code}:{language}"


def _generation_key(code: str) -> str:
    return f"countries:pack-generation:{code}"


def country_pack_get(*, code: str, language: str) -> CountryPack:
    """The offline pack of `code` (any case) in `language` ("ru"/"en"), from the cache or freshly built.

    A cache hit costs one cache round trip and no database query. Unknown code: 404 `country_not_found`.
    """
    code = code.upper()
    if not _CODE.match(code):
        raise NotFoundError(_("There is no country with this code."), code="country_not_found")
    pack_key, generation_key = pack_cache_key(code, language), _generation_key(code)
    cached = cache.get_many([pack_key, generation_key])
    generation = cached.get(generation_key, 0)
    entry = cached.get(pack_key)
    if entry is not None and entry[0] == generation:
        return CountryPack(body=entry[1], etag=entry[2])

    now = timezone.now()
    country = country_for_pack(code=code)
    if country is None:
        raise NotFoundError(_("There is no country with this code."), code="country_not_found")
    document, next_change = country_pack_document(country, language=language, at=now)
    for contributor in PACK_CONTRIBUTORS:
        extra = contributor(code, language)
        clash = set(extra) & set(document)
        if clash:
            raise RuntimeError(f"pack contributor {contributor!r} overrides pack keys {sorted(clash)}")
        document.update(extra)
    body = render_json(document)
    pack = CountryPack(body=body, etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"')
    timeout = settings.COUNTRY_PACK_CACHE_SECONDS
    if next_change is not None:
        timeout = max(1, min(timeout, math.ceil((next_change - now).total_seconds())))
    cache.set(pack_key, (generation, pack.body, pack.etag), timeout)
    return pack


def country_pack_invalidate(*, code: str) -> None:
    """Something in the pack of `code` changed (a mission, a section, an alert...)."""
    country_packs_invalidate(codes=[code])


def country_packs_invalidate(*, codes: Iterable[str]) -> None:
    """Mark the packs of `codes` changed: their `updated_at` moves now (delta sync sees them) and their cached
    packs are discarded once the current transaction commits (so no reader caches the pre-commit data)."""
    codes = sorted({code.upper() for code in codes})
    if not codes:
        return
    Country.objects.filter(code__in=codes).update(updated_at=timezone.now())
    transaction.on_commit(lambda: _bump_generations(codes), robust=True)  # a cache outage fails no write


def _bump_generations(codes: list[str]) -> None:
    for code in codes:
        key = _generation_key(code)
        try:
            cache.incr(key)
        except ValueError:  # no generation yet
            if not cache.add(key, 1, timeout=None):
                cache.incr(key)


@transaction.atomic
def countries_mark_reviewed(*, codes: Iterable[str], on: dt.date) -> int:
    """Staff confirmed the advisories of these countries are current as of `on` (their packs change)."""
    codes = sorted({code.upper() for code in codes})
    count = Country.objects.filter(code__in=codes).update(reviewed_at=on)
    country_packs_invalidate(codes=codes)
    return count


# --- Staff accounts

MISSION_STAFF_GROUP = "Mission staff"
# What consular staff of a mission may do in the panel; the admin scopes every row to their own missions.
_COUNTRIES_STAFF_PERMISSIONS = [
    "view_country",
    "change_country",
    "view_mission",
    "change_mission",
    "view_staffmembership",
    "view_countrysection",
    "add_countrysection",
    "change_countrysection",
    "delete_countrysection",
    "view_regionaladvisory",
    "add_regionaladvisory",
    "change_regionaladvisory",
    "delete_regionaladvisory",
]
# The apps whose staff-panel work is scoped to the staff member's missions: staff may view, add and change their
# rows; deleting is left to the crisis centre. Each app registers itself (AppConfig.ready()); countries names
# none of the apps that depend on it.
STAFF_SCOPED_APPS: list[str] = []


def staff_scoped_app_register(app_label: str) -> None:
    if app_label not in STAFF_SCOPED_APPS:
        STAFF_SCOPED_APPS.append(app_label)


@transaction.atomic
def mission_staff_group_ensure() -> Group:
    """The "Mission staff" group with its permissions (idempotent; run after migrations)."""
    group, _created = Group.objects.get_or_create(name=MISSION_STAFF_GROUP)
    scoped = Q(content_type__app_label__in=STAFF_SCOPED_APPS) & (
        Q(codename__startswith="view_") | Q(codename__startswith="add_") | Q(codename__startswith="change_")
    )
    own = Q(content_type__app_label="countries", codename__in=_COUNTRIES_STAFF_PERMISSIONS)
    group.permissions.set(Permission.objects.filter(own | scoped))
    return group


@transaction.atomic
def staff_user_upsert(*, username: str, password: str, superuser: bool = False, missions=()) -> Any:
    """Create or update a staff-panel login with this password; mission staff join their missions."""
    user, _created = get_user_model().objects.get_or_create(username=username)
    user.is_staff = True
    user.is_superuser = superuser
    user.is_active = True
    user.set_password(password)
    user.save()
    if not superuser:
        user.groups.add(mission_staff_group_ensure())
        for mission in missions:
            StaffMembership.objects.get_or_create(user=user, mission=mission)
    return user
