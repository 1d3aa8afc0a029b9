"""Shared fixtures. Model tests import no Qt: `test_layers.py` checks that in a clean process."""

from __future__ import annotations

import pytest

from sketchforge.modeling.session import Session


@pytest.fixture
def session() -> Session:
    return Session()


@pytest.fixture
def block(session: Session) -> str:
    """A 60 x 40 x 20 box standing on z = 0, centred on the z axis."""
    return session.box((60.0, 40.0, 20.0))


@pytest.fixture(autouse=True)
def _model_tests_load_no_qt(request):
    """Outside tests/gui (run without pytest-qt by `make test`), nothing may bring Qt in."""
    yield
    if not request.config.pluginmanager.has_plugin("pytest-qt"):
        import sys
        assert "PySide6" not in sys.modules, "a model test imported Qt"
