"""Project conventions that a linter cannot see."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import makerkit

SRC = Path(makerkit.__file__).parent
PACKAGES = sorted(
    name for _, name, is_pkg in pkgutil.walk_packages(makerkit.__path__, "makerkit.") if is_pkg
)


@pytest.mark.parametrize("name", PACKAGES)
def test_public_api_is_complete(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__, f"{name} needs a purpose docstring"
    exported = module.__all__  # its order is ruff's RUF022 (isort style)
    assert len(exported) == len(set(exported))
    public = {
        key
        for key, value in vars(module).items()
        if not key.startswith("_")
        and getattr(value, "__module__", name).startswith(name)
        and not isinstance(value, type(importlib))
        and key not in {"annotations"}
    }
    assert public <= set(exported), (
        f"{name} exposes names missing from __all__: {public - set(exported)}"
    )
    for key in exported:
        assert hasattr(module, key)


def test_no_wall_clock_or_global_rng_outside_the_clock_module() -> None:
    banned = re.compile(
        r"time\.time\(|time\.time_ns\(|datetime\.now\(|perf_counter|np\.random\.(?!default_rng|Generator)\w+\(|(?<![\w.])random\.\w+\("
    )
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name == "clock.py" or "testing" in path.parts:
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), start=1):
            if banned.search(line):
                offenders.append(f"{path.relative_to(SRC)}:{lineno}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_py_typed_is_shipped() -> None:
    assert (SRC / "py.typed").is_file()


def test_no_package_reaches_into_another_packages_private_modules() -> None:
    """``makerkit.X._mod`` is X's own business: other packages import X's public names."""
    import ast

    src = Path(makerkit.__file__).parent
    reaching: list[str] = []
    for path in sorted(src.rglob("*.py")):
        parts = path.relative_to(src).parts
        own = parts[0] if len(parts) > 1 else None
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                bits = module.split(".")
                private = bits[0] == "makerkit" and len(bits) > 2 and bits[2].startswith("_")
                if private and bits[1] != own:
                    reaching.append(f"{path.relative_to(src)}:{node.lineno} {module}")
    assert reaching == [], "\n".join(reaching)
