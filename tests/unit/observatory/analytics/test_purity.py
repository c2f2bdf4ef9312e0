"""Pure modules import neither Django nor Celery (nor anything that does)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
PURE_PACKAGES = [ROOT / "observatory" / "analytics", ROOT / "collectors" / "otlp"]
FORBIDDEN = ("django", "celery", "observatory.telemetry", "observatory.regions", "kombu", "psycopg")


def modules():
    return [path for package in PURE_PACKAGES for path in sorted(package.rglob("*.py"))]


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_is_pure(path):
    tree = ast.parse(path.read_text())
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.append(node.module)
    bad = [name for name in imported if name.split(".")[0] in FORBIDDEN or name.startswith(FORBIDDEN)]
    assert not bad, f"{path.name} imports {bad}"


def test_there_are_pure_modules_to_check():
    assert len(modules()) >= 4
