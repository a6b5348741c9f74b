"""The optional integrations: each fails on import, naming its extra, when that is missing."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("module", "dependency", "extra"),
    [
        ("opsgenie_envelope.otel", "opentelemetry", "otel"),
        ("opsgenie_envelope.sentry", "sentry_sdk", "sentry"),
        ("opsgenie_envelope.structlog", "structlog", "structlog"),
        ("opsgenie_envelope.client", "httpx", "client"),
    ],
)
def test_missing_extra_names_the_install_command(
    module: str, dependency: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without its package, the module raises ImportError with the pip command to run."""
    for name in [m for m in sys.modules if m == dependency or m.startswith(f"{dependency}.")]:
        monkeypatch.setitem(sys.modules, name, None)  # None: "import" raises ImportError
    monkeypatch.setitem(sys.modules, dependency, None)
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(ImportError, match=rf'pip install "opsgenie-envelope\[{extra}\]"'):
        importlib.import_module(module)


def test_core_package_imports_no_integration() -> None:
    """Importing the package loads none of the optional integrations' packages."""
    code = (
        "import sys, opsgenie_envelope; "
        "print(sorted(m for m in ('opentelemetry', 'sentry_sdk', 'structlog', 'httpx') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
