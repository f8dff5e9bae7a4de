"""The dependency rules of the code map that a test can see: services never import a tasks module (tasks import
services; a service that enqueues names the task, through core.queue)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("alerts", "callbacks", "core", "countries", "travelers")


def _service_modules() -> list[Path]:
    found = []
    for app in APPS:
        found += [ROOT / app / "services.py"] if (ROOT / app / "services.py").exists() else []
        found += sorted((ROOT / app / "services").glob("**/*.py"))
    return found


def _imported_modules(path: Path) -> list[str]:
    """Every module an import statement anywhere in `path` (functions included) names, `from a import b`
    counted as both `a` and `a.b`."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.append(base)
            names += [f"{base}.{alias.name}" if node.module else f"{base}{alias.name}" for alias in node.names]
    return names


def _is_tasks_module(name: str) -> bool:
    return name.rsplit(".", 1)[-1] == "tasks"


def test_the_service_modules_are_found():
    names = {path.relative_to(ROOT).as_posix() for path in _service_modules()}
    assert {"callbacks/services.py", "countries/services.py", "alerts/services/lifecycle.py"} <= names
    assert "travelers/services/auth.py" in names


def test_no_service_module_imports_a_tasks_module():
    offenders = {
        path.relative_to(ROOT).as_posix(): [name for name in _imported_modules(path) if _is_tasks_module(name)]
        for path in _service_modules()
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_check_sees_the_import_forms_it_forbids(tmp_path):
    module = tmp_path / "services.py"
    module.write_text(
        "from alerts import tasks\nfrom .tasks import x\n\ndef f():\n    import callbacks.tasks\n", encoding="utf-8"
    )
    assert [name for name in _imported_modules(module) if _is_tasks_module(name)] == [
        "alerts.tasks",
        ".tasks",
        "callbacks.tasks",
    ]


def _rule_modules() -> list[Path]:
    """Where the rules live: services and selectors (modules or packages)."""
    found = _service_modules()
    for app in APPS:
        found += [ROOT / app / "selectors.py"] if (ROOT / app / "selectors.py").exists() else []
        found += sorted((ROOT / app / "selectors").glob("**/*.py"))
    return found


def test_no_service_or_selector_imports_drf():
    """Services raise core.errors; the HTTP layer (DRF) is the views' and core.exceptions' business."""
    offenders = {
        path.relative_to(ROOT).as_posix(): [
            name for name in _imported_modules(path) if name.split(".")[0] == "rest_framework"
        ]
        for path in _rule_modules()
    }
    assert {path: names for path, names in offenders.items() if names} == {}
    assert len(_rule_modules()) > len(_service_modules())  # the selectors are in the check too
