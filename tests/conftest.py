import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))   # tests/helpers.py


@pytest.fixture(scope="session")
def build_cache(tmp_path_factory):
    """One native build cache for the session: identical models compile once."""
    return str(tmp_path_factory.mktemp("native_cache"))
