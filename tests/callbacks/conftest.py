import pytest

from core.push.backends import locmem
from tests.factories.callbacks import StaffUserFactory
from tests.factories.countries import CountryFactory, MissionFactory

LAUNCH_COUNTRIES = ("AM", "JO", "KH", "US", "SI")


@pytest.fixture
def launch_countries(db):
    """The five launch countries with call-backs on, and two known countries without."""
    enabled = {code: CountryFactory(code=code, callbacks_enabled=True) for code in LAUNCH_COUNTRIES}
    CountryFactory(code="FR", callbacks_enabled=False)
    CountryFactory(code="TR", callbacks_enabled=False)
    return enabled


@pytest.fixture
def armenia(launch_countries):
    return launch_countries["AM"]


@pytest.fixture
def embassy(armenia):
    """The embassy in Yerevan: Mon-Fri 09:00-18:00 Asia/Yerevan (UTC+4, no DST)."""
    return MissionFactory(
        country=armenia, name_en="Embassy of Russia in Armenia", name_ru="Посольство России в Армении"
    )


@pytest.fixture
def consulate(armenia):
    return MissionFactory(
        country=armenia,
        kind="consulate_general",
        name_en="Consulate General in Gyumri",
        name_ru="Генконсульство в Гюмри",
        city_en="Gyumri",
        city_ru="Гюмри",
        serves_regions=["Gyumri", "Shirak"],
    )


@pytest.fixture
def staff(embassy):
    return StaffUserFactory(missions=[embassy])


@pytest.fixture
def outbox():
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()


@pytest.fixture(autouse=True)
def _fresh_notice_kick():
    """Each test starts as a fresh process would: the next committed change kicks the notice sender."""
    from core import queue

    queue.forget_recent()
    yield
    queue.forget_recent()
