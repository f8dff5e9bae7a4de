"""Sign-in limits: per phone (normalised), per address, 429 with Retry-After, counters in Redis."""

import threading
import time

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIRequestFactory

from tests.problems import assert_problem
from travelers.api.throttles import SlotRateThrottle

PHONE = "+37410123456"
SPELLINGS = ["+37410123456", "+374 10 123456", "+374-10-123-456", "+374 (10) 12 34 56", " +37410123456 "]


def otp(client, phone, address="10.0.0.1"):
    return client.post("/api/v1/auth/otp/", {"phone": phone}, format="json", REMOTE_ADDR=address)


def redis_keys(pattern: str) -> list[str]:
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    return [str(key) for key in client.keys(pattern)]


def test_five_codes_per_phone_per_hour_however_it_is_written(api_client, db):
    for spelling in SPELLINGS:
        assert otp(api_client, spelling).status_code == 202
    response = otp(api_client, PHONE)
    problem = assert_problem(response, 429, "throttled")
    retry_after = int(response["Retry-After"])
    assert 3590 <= retry_after <= 3600
    assert problem["retry_after"] == retry_after
    # another phone from the same address is not limited by this phone's counter
    assert otp(api_client, "+37410123457").status_code == 202


def test_phone_counters_live_in_redis_and_hold_no_phone_numbers(api_client, db):
    for _ in range(5):
        otp(api_client, PHONE)
    keys = redis_keys("*throttle_otp_phone_*")
    assert len(keys) == 5
    assert not any("37410123456" in key for key in keys)
    ttl = redis.Redis.from_url(settings.REDIS_URL).ttl(keys[0])
    assert 3590 <= ttl <= 3600
    # A fresh process has no memory of its own: the counters in Redis are what refuses the 6th request.
    assert otp(api_client, PHONE).status_code == 429
    cache.clear()
    assert otp(api_client, PHONE).status_code == 202


def test_per_address_limit(api_client, db):
    for n in range(30):
        assert otp(api_client, f"+3749{n:07d}").status_code == 202
    response = otp(api_client, "+37491234567")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert otp(api_client, "+37491234567", address="10.0.0.2").status_code == 202


def test_invalid_phones_are_not_counted_per_phone_but_per_address(api_client, db):
    for _ in range(6):
        assert otp(api_client, "123").status_code == 400
    assert not redis_keys("*throttle_otp_phone_*")
    assert len(redis_keys("*throttle_otp_address_*")) == 6


def test_token_requests_are_limited_per_address(api_client, db):
    for _ in range(60):
        response = api_client.post(
            "/api/v1/auth/token/", {"phone": PHONE, "code": "000000"}, format="json", REMOTE_ADDR="10.0.0.9"
        )
        assert response.status_code == 400
    response = api_client.post(
        "/api/v1/auth/token/", {"phone": PHONE, "code": "000000"}, format="json", REMOTE_ADDR="10.0.0.9"
    )
    assert_problem(response, 429, "throttled")
    assert response.has_header("Retry-After")


class TwoPerSecond(SlotRateThrottle):
    rate = "2/s"
    scope = "test"

    def get_cache_key(self, request, view):
        return "throttle_test_key"


class FivePerMinute(TwoPerSecond):
    rate = "5/m"


def test_slots_free_themselves_after_the_window():
    request = APIRequestFactory().get("/")
    assert TwoPerSecond().allow_request(request, None)
    assert TwoPerSecond().allow_request(request, None)
    refused = TwoPerSecond()
    assert not refused.allow_request(request, None)
    assert refused.wait() == 1
    time.sleep(1.1)
    assert TwoPerSecond().allow_request(request, None)


@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_requests_never_exceed_the_limit(attempt):
    """The N+1st request is refused even when many arrive at once (each thread has its own Redis connection,
    as separate server processes would)."""
    request = APIRequestFactory().get("/")
    barrier = threading.Barrier(20)
    results = []

    def hit():
        throttle = FivePerMinute()
        barrier.wait()
        results.append(throttle.allow_request(request, None))

    threads = [threading.Thread(target=hit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 5


def test_slot_counts_are_bounded():
    class TooMany(TwoPerSecond):
        rate = "5000/h"

    with pytest.raises(ImproperlyConfigured):
        TooMany()
