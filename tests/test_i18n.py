"""The Russian catalogue: complete, compiled, in step with the sources; the API answers in both languages.

Pure Python (no gettext tools, no polib): CI and deployments use the committed .mo, so the tests read the .po with
a small parser, check the .mo against it, and find the translatable strings of the sources the way makemessages
does (gettext calls in Python, `{% translate %}`/`{% blocktranslate %}` in templates, through Django's templatize).
"""

from __future__ import annotations

import ast
import gettext
import os
import re
from pathlib import Path

import pytest
from django.utils import translation
from django.utils.translation.template import templatize

from callbacks.notifications import PUSH_TEXTS
from tests.problems import assert_problem

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "ru" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# What `makemessages -l ru --ignore=.venv --ignore=tests --ignore=bench --ignore=staticfiles` skips, plus
# directories that never hold sources (makemessages also skips hidden ones).
IGNORED_DIRS = {".venv", "tests", "bench", "staticfiles", "locale", "node_modules", "__pycache__"}
# The gettext functions makemessages extracts (xgettext's Python defaults plus Django's keywords):
# name -> (has a context, has a plural).
GETTEXT_FUNCTIONS = {
    "_": (False, False),
    "gettext": (False, False),
    "gettext_lazy": (False, False),
    "gettext_noop": (False, False),
    "ngettext": (False, True),
    "ngettext_lazy": (False, True),
    "pgettext": (True, False),
    "pgettext_lazy": (True, False),
    "npgettext": (True, True),
    "npgettext_lazy": (True, True),
}
# Strings wrapped for translation that makemessages cannot see, each reported to the owner of the file. An entry
# must still be missing from the catalogue (the test fails once it is extracted: then delete it here).
# Wrapped strings makemessages cannot see (e.g. `_()` inside an f-string replacement field; xgettext 0.21 does
# not look there), as (msgctxt, msgid). Empty: keep it so.
KNOWN_UNEXTRACTED: set[tuple[str | None, str]] = set()
NPLURALS = 3
# %(name)s / %s / %d, and {name} (str.format); "%%" is a literal percent sign.
PLACEHOLDER = re.compile(r"%(?:\([^)]+\))?[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc%]|\{\w*\}")


# --- the .po, read by hand ------------------------------------------------------------------------------------


def _unquote(token: str) -> str:
    return ast.literal_eval(token)  # a .po string is a valid Python string literal (\n, \t, \", \\)


def parse_po(text: str) -> list[dict]:
    """Entries as {"msgctxt", "msgid", "msgid_plural", "msgstr" (str or list), "flags", "line"}; no obsolete ones."""
    entries = []
    for match in re.finditer(r"(?:^(?!#~).+\n?)+", text, flags=re.MULTILINE):
        block = match.group(0)
        entry: dict = {
            "msgctxt": None,
            "msgid_plural": None,
            "flags": set(),
            "line": text.count("\n", 0, match.start()) + 1,
        }
        fields: dict[str, str] = {}
        key = ""  # the field a continuation line ("...") extends
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                fields[key] += _unquote(line)
            else:
                key, _space, value = line.partition(" ")
                fields[key] = _unquote(value)
        if "msgid" not in fields:
            continue
        entry["msgctxt"] = fields.get("msgctxt")
        entry["msgid"] = fields["msgid"]
        entry["msgid_plural"] = fields.get("msgid_plural")
        plural_forms = sorted((k for k in fields if k.startswith("msgstr[")), key=lambda k: int(k[7:-1]))
        entry["msgstr"] = [fields[k] for k in plural_forms] if plural_forms else fields.get("msgstr", "")
        entries.append(entry)
    return entries


@pytest.fixture(scope="module")
def catalogue() -> list[dict]:
    return parse_po(PO.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def messages(catalogue) -> list[dict]:
    return [entry for entry in catalogue if entry["msgid"]]


def header(catalogue) -> dict[str, str]:
    (entry,) = [e for e in catalogue if e["msgid"] == "" and e["msgctxt"] is None]
    return dict(line.split(": ", 1) for line in entry["msgstr"].splitlines() if ": " in line)


def label(entry: dict) -> str:
    return f"line {entry['line']}: {entry['msgid']!r}"


# --- the catalogue is complete and well-formed ----------------------------------------------------------------


def test_the_header_declares_russian_utf8_and_the_three_russian_plural_forms(catalogue):
    fields = header(catalogue)
    assert fields["Language"] == "ru"
    assert fields["Content-Type"] == "text/plain; charset=UTF-8"
    assert fields["Plural-Forms"].startswith(f"nplurals={NPLURALS}; plural=")
    assert "fuzzy" not in next(e for e in catalogue if e["msgid"] == "")["flags"]


def test_every_message_is_translated_and_none_is_fuzzy(messages):
    assert len(messages) > 250
    fuzzy = [label(e) for e in messages if "fuzzy" in e["flags"]]
    untranslated = [
        label(e) for e in messages if not (all(e["msgstr"]) if isinstance(e["msgstr"], list) else e["msgstr"])
    ]
    assert fuzzy == []
    assert untranslated == []


def test_plural_messages_have_the_three_russian_forms(messages):
    plurals = [e for e in messages if e["msgid_plural"] is not None]
    assert plurals
    assert [label(e) for e in plurals if len(e["msgstr"]) != NPLURALS] == []


def test_translations_keep_every_placeholder(messages):
    def placeholders(text: str) -> list[str]:
        return sorted(PLACEHOLDER.findall(text))

    wrong = []
    for entry in messages:
        sources = [entry["msgid"], entry["msgid_plural"]] if entry["msgid_plural"] else [entry["msgid"]]
        translations = entry["msgstr"] if isinstance(entry["msgstr"], list) else [entry["msgstr"]]
        expected = placeholders(sources[-1])
        for text in translations:
            # A plural form has the placeholders of the plural source (or of the singular, which may omit the number).
            if placeholders(text) not in (expected, placeholders(sources[0])):
                wrong.append(f"{label(entry)} -> {text!r}")
    assert wrong == []


def test_translations_keep_leading_and_trailing_spaces_and_newlines(messages):
    def edges(text: str) -> tuple[str, str]:
        return text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]

    wrong = [
        label(e)
        for e in messages
        for t in (e["msgstr"] if isinstance(e["msgstr"], list) else [e["msgstr"]])
        if edges(t) != edges(e["msgid"])
    ]
    assert wrong == []


# --- the committed .mo is the compiled .po ----------------------------------------------------------------------


def test_the_committed_mo_holds_exactly_the_translations_of_the_po(messages):
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    expected: dict = {}
    for entry in messages:
        key = entry["msgid"] if entry["msgctxt"] is None else f"{entry['msgctxt']}\x04{entry['msgid']}"
        if entry["msgid_plural"] is None:
            expected[key] = entry["msgstr"]
        else:
            expected.update({(key, i): form for i, form in enumerate(entry["msgstr"])})
    actual = {key: value for key, value in compiled._catalog.items() if key != ""}  # "" is the header
    stale = sorted(str(k) for k in expected.keys() ^ actual.keys())
    assert stale == [], "run compilemessages: the .mo and the .po hold different messages"
    different = sorted(str(k) for k in expected if expected[k] != actual[k])
    assert different == [], "run compilemessages: the .mo has other translations than the .po"


def test_the_committed_mo_chooses_the_russian_plural_form():
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    singular, plural = "%(count)d country marked as reviewed.", "%(count)d countries marked as reviewed."
    forms = {n: compiled.ngettext(singular, plural, n) % {"count": n} for n in (1, 3, 5, 11, 21, 22, 111)}
    assert forms == {
        1: "1 страна отмечена как проверенная.",
        3: "3 страны отмечены как проверенные.",
        5: "5 стран отмечены как проверенные.",
        11: "11 стран отмечены как проверенные.",
        21: "21 страна отмечена как проверенная.",
        22: "22 страны отмечены как проверенные.",
        111: "111 стран отмечены как проверенные.",
    }


# --- the catalogue is in step with the sources --------------------------------------------------------------------


def _source_files(suffixes: tuple[str, ...]):
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = sorted(d for d in subdirectories if d not in IGNORED_DIRS and not d.startswith("."))
        yield from (Path(directory) / name for name in sorted(files) if name.endswith(suffixes))


def _python_messages(path: Path) -> set[tuple[str | None, str]]:
    found: set[tuple[str | None, str]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if name not in GETTEXT_FUNCTIONS:
            continue
        has_context, _plural = GETTEXT_FUNCTIONS[name]
        args = node.args[: 2 if has_context else 1]
        if len(args) == (2 if has_context else 1) and all(
            isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args
        ):
            texts = [str(a.value) for a in args if isinstance(a, ast.Constant)]
            found.add((texts[0], texts[1]) if has_context else (None, texts[0]))
    return found


_REPR = r"""u?(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
# templatize writes each message as ` gettext('...') `, ` ngettext('...', '...', count) `, ` pgettext('ctx', '...') `.
_TEMPLATE_CALL = re.compile(rf"\b(n?p?gettext)\(({_REPR})(?:, ({_REPR}))?")


def _template_messages(path: Path) -> set[tuple[str | None, str]]:
    """Django's templatize turns a template into Python-like text with gettext calls, as makemessages does."""
    found = set()
    for name, first, second in _TEMPLATE_CALL.findall(templatize(path.read_text(encoding="utf-8"), origin=str(path))):
        has_context, _plural = GETTEXT_FUNCTIONS[name]
        first = ast.literal_eval(first.removeprefix("u"))
        found.add((first, ast.literal_eval(second.removeprefix("u"))) if has_context else (None, first))
    return found


@pytest.fixture(scope="module")
def source_messages() -> set[tuple[str | None, str]]:
    found: set[tuple[str | None, str]] = set()
    for path in _source_files((".py",)):
        found |= _python_messages(path)
    for path in _source_files((".html", ".txt")):
        found |= _template_messages(path)
    return found


def test_the_source_scan_finds_strings_of_every_kind(source_messages):
    assert (None, "Embassy") in source_messages  # gettext_lazy in a model
    assert (None, "%(count)d country marked as reviewed.") in source_messages  # ngettext in an admin action
    assert (None, "Apply") in source_messages  # {% translate %}
    assert (None, " By %(filter_title)s ") in source_messages  # {% blocktranslate %} with a variable


def test_every_string_of_the_sources_is_in_the_catalogue(source_messages, messages):
    """Fails when a new or changed string was not extracted: re-run makemessages, translate, compilemessages."""
    catalogued = {(e["msgctxt"], e["msgid"]) for e in messages}
    missing = sorted(source_messages - catalogued - KNOWN_UNEXTRACTED, key=str)
    assert missing == []
    assert sorted(KNOWN_UNEXTRACTED & catalogued, key=str) == [], "now extracted: remove from KNOWN_UNEXTRACTED"
    assert source_messages >= KNOWN_UNEXTRACTED, "no longer in the sources: remove from KNOWN_UNEXTRACTED"


def test_the_catalogue_has_no_string_the_sources_lost(source_messages, messages):
    """Fails when a string left the sources but the catalogue still ships it: re-run makemessages."""
    catalogued = {(e["msgctxt"], e["msgid"]) for e in messages}
    assert sorted(catalogued - source_messages, key=str) == []


# --- the API speaks both languages ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unknown_country_is_a_404_in_russian_by_default_and_in_english_on_request(api_client):
    russian = assert_problem(api_client.get("/api/v1/countries/zz/"), 404, "country_not_found")
    english = assert_problem(
        api_client.get("/api/v1/countries/zz/", HTTP_ACCEPT_LANGUAGE="en"), 404, "country_not_found"
    )
    assert (russian["title"], russian["detail"]) == ("Не найдено", "Страна с таким кодом не найдена.")
    assert (english["title"], english["detail"]) == ("Not found", "There is no country with this code.")


@pytest.mark.django_db
def test_an_invalid_phone_is_a_400_in_russian_by_default_and_in_english_on_request(api_client):
    url, body = "/api/v1/auth/otp/", {"phone": "12345"}
    russian = assert_problem(api_client.post(url, body, format="json"), 400, "invalid_phone")
    english = assert_problem(
        api_client.post(url, body, format="json", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9"), 400, "invalid_phone"
    )
    assert russian["title"] == "Некорректный запрос"
    assert russian["errors"] == [
        {
            "field": "phone",
            "code": "invalid_phone",
            "detail": "Введите корректный номер телефона в международном формате, например +37410123456.",
        }
    ]
    assert english["title"] == "Bad request"
    assert english["errors"][0]["detail"] == "Enter a valid phone number in international format, e.g. +37410123456."


@pytest.mark.django_db
def test_an_unknown_language_falls_back_to_russian(api_client):
    body = assert_problem(api_client.get("/api/v1/countries/zz/", HTTP_ACCEPT_LANGUAGE="de"), 404, "country_not_found")
    assert body["detail"] == "Страна с таким кодом не найдена."


@pytest.mark.django_db
def test_an_invalid_token_is_refused_in_the_requests_language(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-token")
    russian = api_client.get("/api/v1/me/")
    english = api_client.get("/api/v1/me/", HTTP_ACCEPT_LANGUAGE="en")
    assert russian.status_code == english.status_code == 401
    assert russian.json()["detail"] == "Токен недействителен, просрочен или отозван."
    assert english.json()["detail"] == "The token is invalid, expired or revoked."


def test_call_back_push_texts_follow_the_devices_language():
    for status, (title, body) in PUSH_TEXTS.items():
        with translation.override("en"):
            english = (str(title), str(body))
        with translation.override("ru"):
            russian = (str(title), str(body))
        assert russian != english, status
        assert all(re.search("[а-яА-Я]", text) and not re.search("[a-zA-Z]", text) for text in russian), russian
        assert len(russian[0]) <= 40, russian[0]  # a title fits the lock screen


@pytest.mark.django_db
def test_staff_panel_titles_of_records_follow_the_language():
    """`__str__` is the title of a record's page and its line in the admin log: Russian by default."""
    from tests.factories.alerts import DeliveryFactory, SafetyReplyFactory
    from tests.factories.callbacks import CallbackAttemptFactory
    from tests.factories.travelers import DeviceFactory, TravelerFactory, TripFactory

    delivery = DeliveryFactory()
    records = [
        delivery,
        delivery.alert,
        SafetyReplyFactory(alert=delivery.alert, traveler=delivery.device.traveler),
        CallbackAttemptFactory(),
        TravelerFactory(),
        TripFactory(),
        DeviceFactory(),
    ]
    records.append(records[3].request)
    for record in records:
        with translation.override("en"):
            english = str(record)
        with translation.override("ru"):
            russian = str(record)
        assert russian != english, type(record).__name__
        assert re.search("[а-яА-Я]{3,}", russian), russian
        assert not re.search("[а-яА-Я]", english), english
