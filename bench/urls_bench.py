"""Benchmark-only URLs: the project's URLs plus bare baseline views (selected by bench/settings_bench.py).

`bare_country_pack` serves the country pack's cached bytes with the least Django can do: one cache get of the
same entry the API reads, an HttpResponse, and the same If-None-Match comparison.
"""

from django.core.cache import cache
from django.http import HttpResponse, HttpResponseNotModified
from django.urls import path

import config.urls
from countries.services import country_pack_get, pack_cache_key


def bare_country_pack(request, code: str) -> HttpResponse:
    entry = cache.get(pack_cache_key(code, "ru"))
    if entry is None:  # expired at a mission's opening or closing: rebuild once, as the endpoint does
        pack = country_pack_get(code=code, language="ru")
        entry = (None, pack.body, pack.etag)
    _generation, body, etag = entry
    response: HttpResponse
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    return response


urlpatterns = [
    path("bench/bare/countries/<str:code>/", bare_country_pack),
    *config.urls.urlpatterns,
]
handler404 = config.urls.handler404
handler500 = config.urls.handler500
