"""One synthesized app per test module: jsii start-up is paid once."""

from __future__ import annotations

import pytest

from .support import Synthesized, synth


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory) -> Synthesized:
    return synth(tmp_path_factory.mktemp("synth"))
