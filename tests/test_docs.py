"""The documentation names only things that exist.

Checked files: ARCHITECTURE.md, README.md, docs/*.md, bench/README.md. Fenced code blocks (```) are skipped;
what is checked is the text between single backticks (a "span") and the targets of relative Markdown links.
The rules are deliberately simple; write a doc so that it follows them rather than adding exceptions.

1. Paths. A span is a path when it contains "/" or ends in a file extension of this repository (.py .md
   .txt .toml .json .po .mo .example .sh .cfg .ini .yml .yaml .sql), and has no whitespace and none of
   `:` `=` `+` `@` `?` `,` (URLs, media types such as application/problem+json, commands, query strings).
   Spans starting with "/" are URL paths and "../" leaves the repository: both are skipped. `<placeholder>`,
   `{placeholder}` and `*` are wildcards. A path is relative to the repository root and must match at least
   one file or directory (write `countries/data/`, not `data/`).
2. Dotted Python names. A span like `a.b.c` (identifiers joined by dots, not a path by rule 1) whose first
   part is an importable top-level module must import: the longest importable module prefix is imported and
   the rest are attributes (`core.views.HEALTH_CHECKS`, `alerts.tasks.sweep`). A first part that is not a
   module (`request.user`) is not a Python name here.
3. Settings. A span that is an ALL_CAPS identifier with an underscore (or `NAME=value`, checking NAME) is a
   setting or environment variable: config/settings.py must read it, i.e. contain "NAME" as a string (an
   environment variable it reads) or assign it at the start of a line (a Django setting). `*` is a wildcard
   (`DJANGO_SECURE_*`). Names starting with BENCH_ are the benchmarks' own: some bench/*.py must contain
   "NAME". EXTERNAL_NAMES lists the few capitalised names that belong to others (a provider's error codes).
4. The table under "## Dependencies" in ARCHITECTURE.md (rows `| package | why |`) names each pinned package
   of requirements.txt and requirements-dev.txt exactly once and nothing else; names are compared normalised
   (PEP 503: case-insensitive, runs of - _ . equal) and without extras (`celery[redis]` is celery).
5. ARCHITECTURE.md stays about one page (MAX_ARCHITECTURE_BYTES); figures belong in docs/ or bench/README.md.
"""

import fnmatch
import importlib
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted(
    [ROOT / "ARCHITECTURE.md", ROOT / "README.md", ROOT / "bench" / "README.md", *(ROOT / "docs").glob("*.md")]
)
SETTINGS_SOURCE = (ROOT / "config" / "settings.py").read_text()
BENCH_SOURCE = "\n".join(p.read_text() for p in sorted((ROOT / "bench").glob("*.py")))
EXTERNAL_NAMES = {"INVALID_ARGUMENT"}  # FCM's error code (docs/delivery.md)
MAX_ARCHITECTURE_BYTES = 8_500  # about one page of text; the dependency table alone is ~2 KB

EXTENSIONS: tuple[str, ...] = (".py", ".md", ".txt", ".toml", ".json", ".po", ".mo", ".example", ".sh", ".cfg")
EXTENSIONS += (".ini", ".yml", ".yaml", ".sql")
NOT_A_PATH = re.compile(r"[\s:=+@?,]")
DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
SETTING = re.compile(r"^(?=[A-Z0-9_*]*_)[A-Z][A-Z0-9_*]+$")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _text(doc: Path) -> str:
    return FENCE.sub("", doc.read_text())


def spans() -> list[tuple[str, str]]:
    return [(doc.relative_to(ROOT).as_posix(), s.strip()) for doc in DOCS for s in SPAN.findall(_text(doc))]


def is_path(span: str) -> bool:
    if NOT_A_PATH.search(span) or span.startswith(("/", "../", "-")):
        return False
    return "/" in span or span.endswith(EXTENSIONS)


def path_exists(span: str) -> bool:
    pattern = re.sub(r"<[^>]*>|\{[^}]*\}", "*", span).rstrip("/")
    if any(ch in pattern for ch in "*?["):
        return any(ROOT.glob(pattern))
    return (ROOT / pattern).exists()


def dotted_resolves(name: str) -> bool | None:
    """True or False for a Python name; None when the first part is not an importable module."""
    parts = name.split(".")
    if importlib.util.find_spec(parts[0]) is None:
        return None
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


MAKEFILE_SOURCE = (ROOT / "Makefile").read_text()


def setting_read(name: str) -> bool:
    if name in EXTERNAL_NAMES:
        return True
    if f"$({name})" in MAKEFILE_SOURCE:  # a make variable (PYTEST_ARGS)
        return True
    source = BENCH_SOURCE if name.startswith("BENCH_") else SETTINGS_SOURCE
    quoted = set(re.findall(r"[\"']([A-Z][A-Z0-9_]+)[\"']", source))
    if not name.startswith("BENCH_"):
        quoted |= set(re.findall(r"^([A-Z][A-Z0-9_]+)\s*(?::[^=\n]*)?=", source, re.MULTILINE))
    return any(fnmatch.fnmatchcase(candidate, name) for candidate in quoted)


def test_the_checked_documents_exist():
    for name in ("ARCHITECTURE.md", "README.md", "bench/README.md", "docs/delivery.md", "docs/translations.md"):
        assert (ROOT / name).exists(), name


def test_every_backticked_path_exists():
    dangling = [(doc, s) for doc, s in spans() if is_path(s) and not path_exists(s)]
    assert dangling == []


def test_every_relative_link_exists():
    dangling = []
    for doc in DOCS:
        for target in LINK.findall(_text(doc)):
            target = target.split("#")[0]
            external = not target or "://" in target or target.startswith(("mailto:", "../"))
            if not external and not (doc.parent / target).exists():
                dangling.append((doc.relative_to(ROOT).as_posix(), target))
    assert dangling == []


def test_every_backticked_python_name_imports():
    names = [(doc, s) for doc, s in spans() if DOTTED.match(s) and not is_path(s)]
    assert any(dotted_resolves(s) for _, s in names)  # the rule is in use
    assert [(doc, s) for doc, s in names if dotted_resolves(s) is False] == []


def test_every_setting_named_is_read_by_settings():
    named = [(doc, s.split("=")[0]) for doc, s in spans() if SETTING.match(s.split("=")[0]) and " " not in s]
    assert len(named) > 10  # the rule is in use
    assert [(doc, s) for doc, s in named if not setting_read(s)] == []


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[")[0].strip()).lower()


def pinned_packages() -> list[str]:
    names = []
    for req in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / req).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                assert "==" in line, f"{req}: {line} is not pinned"
                names.append(_normalise(line.split("==")[0]))
    return names


def dependency_table() -> list[str]:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    section = text.split("\n## Dependencies", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert rows
    assert rows[0].replace(" ", "") == "|package|why|"
    return [_normalise(row.split("|")[1].replace("`", "")) for row in rows[2:]]


def test_dependency_table_lists_exactly_the_pinned_packages():
    table, pinned = dependency_table(), pinned_packages()
    assert len(table) == len(set(table)), "a package has two rows"
    assert sorted(table) == sorted(set(pinned))


def test_architecture_stays_about_one_page():
    assert len((ROOT / "ARCHITECTURE.md").read_bytes()) <= MAX_ARCHITECTURE_BYTES


@pytest.mark.parametrize(
    ("span", "kind", "expected"),
    [
        ("travelers/nowhere.py", "path", False),
        ("tests/<app>/test_services.py", "path", True),
        ("core.views.NO_SUCH_NAME", "python", False),
        ("core.nowhere", "python", False),
        ("core.views.HEALTH_CHECKS", "python", True),
        ("NO_SUCH_SETTING", "setting", False),
        ("ALERT_FREEZE_SLICE", "setting", True),
        ("BENCH_NO_SUCH_URL", "setting", False),
    ],
)
def test_the_rules_catch_a_dangling_reference(span, kind, expected):
    """The checks above fail when a reference dangles (each rule, on a name that exists and one that does not)."""
    if kind == "path":
        assert is_path(span)
        assert path_exists(span) is expected
    elif kind == "python":
        assert DOTTED.match(span)
        assert not is_path(span)
        assert dotted_resolves(span) is expected
    else:
        assert SETTING.match(span)
        assert setting_read(span) is expected
