"""Fixtures of the deployments' end-to-end test: a Prefect server of its own for the module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_prefect import PrefectStack


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "end_to_end: slow end-to-end test through a real Prefect server and worker"
    )


@pytest.fixture(scope="module")
def prefect_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectStack]:
    """A Prefect server of its own for the module; worker and server stopped afterwards."""
    stack = PrefectStack(tmp_path_factory.mktemp("prefect-e2e"))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
