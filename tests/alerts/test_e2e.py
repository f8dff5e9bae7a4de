"""End to end: a real Celery worker process on the real Redis and PostgreSQL delivers a published alert to
every targeted device through the fake FCM and APNs servers, over HTTP/2."""

import pytest
from django.db import connection

from alerts.models import Alert, AlertStatus
from alerts.selectors import alert_progress
from alerts.services import alert_create, alert_publish
from tests.factories.travelers import DeviceFactory, TravelerFactory, TripFactory
from tests.fakes.apns import KEY_ID, TEAM_ID, FakeAPNs
from tests.fakes.fcm import FakeFCM
from tests.fakes.push_server import Faults
from tests.workers import celery_worker, wait_until
from travelers.models import Device, DeviceSubscription

ANONYMOUS = 450  # subscribed devices, bulk-created
TRAVELERS = 40  # travelers with a trip and a phone (factories)


def _seed(country) -> set[str]:
    tokens: set[str] = set()
    for i in range(TRAVELERS):
        traveler = TravelerFactory.create()
        TripFactory.create(traveler=traveler, leg__country=country)
        platform = ("android", "web", "ios")[i % 3]
        tokens.add(DeviceFactory.create(traveler=traveler, platform=platform, token=f"e2e-{platform}-{i}").token)
    devices = Device.objects.bulk_create(
        [
            Device(platform="android", token=f"e2e-anon-{i}", token_hash=f"{i:064x}", locale="en" if i % 2 else "ru")
            for i in range(ANONYMOUS)
        ]
    )
    DeviceSubscription.objects.bulk_create([DeviceSubscription(device=d, country=country) for d in devices])
    tokens |= {d.token for d in devices}
    return tokens


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_published_alert_reaches_every_device_through_a_real_worker(staff, armenia, broker_queue, tmp_path):
    assert connection.vendor == "postgresql"
    tokens = _seed(armenia)
    DeviceFactory(traveler=None, token="unregistered-e2e")  # a dead token, subscribed: pruned on the way
    DeviceSubscription.objects.create(device=Device.objects.get(token="unregistered-e2e"), country=armenia)

    with FakeFCM(faults=Faults(latency_ms=5)) as fcm, FakeAPNs(cert_dir=tmp_path / "certs") as apns:
        fcm_credentials = fcm.write_credentials(tmp_path / "fcm.json")
        apns_key = apns.write_key(tmp_path / "apns.p8")
        with celery_worker(
            tmp_path / "worker.log",
            PUSH_BACKEND="providers",
            FCM_ENDPOINT=fcm.url,
            FCM_CREDENTIALS_FILE=str(fcm_credentials),
            APNS_ENDPOINT=apns.url,
            APNS_KEY_FILE=str(apns_key),
            APNS_KEY_ID=KEY_ID,
            APNS_TEAM_ID=TEAM_ID,
            APNS_TOPIC=apns.app.topic,
            PUSH_TLS_CA_FILE=str(apns.certfile),
            ALERT_BATCH_SIZE="100",
        ):
            # The staff panel's service, in its own committed transaction: the kickoff goes to Redis on commit.
            alert = alert_create(
                author=staff,
                country=armenia,
                severity="warning",
                title_ru="Отключение связи",
                title_en="Network outage",
                text_ru="Мобильная связь может не работать до вечера.",
                text_en="Mobile networks may be down until the evening.",
            )
            alert = alert_publish(alert=alert, user=staff)
            assert alert.audience_devices is None  # the worker's kickoff writes the audience

            wait_until(
                lambda: Alert.objects.get(pk=alert.pk).status == AlertStatus.SENT,
                timeout=120,
                message="every delivery to settle",
            )
            alert.refresh_from_db()
            assert alert.audience_devices == len(tokens) + 1
            progress = alert_progress(alert=alert)
            assert progress == {"total": len(tokens) + 1, "sent": len(tokens), "failed": 1, "pending": 0}
            delivered = fcm.stats()["delivered"] + apns.stats()["delivered"]
            assert delivered == len(tokens)
            assert {r["token"] for r in fcm.delivered + apns.delivered} == tokens
            assert fcm.stats()["duplicates"] == apns.stats()["duplicates"] == 0
            assert set(fcm.stats()["collapse_ids"]) | set(apns.stats()["collapse_ids"]) == {str(alert.pk)}
            assert not Device.objects.get(token="unregistered-e2e").is_active
            assert {"2"} == set(fcm.stats()["http_versions"]) | set(apns.stats()["http_versions"])
