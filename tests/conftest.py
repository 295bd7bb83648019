"""Shared fixtures: the networks the tests use, all from tests/data or the package."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
warnings.filterwarnings("ignore", category=FutureWarning, module="pgmpy")

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session", autouse=True)
def _network_cache(tmp_path_factory):
    """Parsed foreign networks are cached in a temporary directory, never in the user's home."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BAYESDX_CACHE_DIR", str(tmp_path_factory.mktemp("bayesdx-cache")))
        yield


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def two_disease():
    import bayesdx

    return bayesdx.load_network(DATA / "two_disease.yaml")


@pytest.fixture(scope="session")
def fasciculation():
    import bayesdx

    return bayesdx.load_network("fasciculation")


@pytest.fixture(scope="session")
def asia():
    import bayesdx

    return bayesdx.load_network(DATA / "asia.bif", targets=["lung", "tub", "bronc"])


@pytest.fixture(scope="session")
def hepar2():
    import bayesdx

    return bayesdx.load_network(DATA / "hepar2.bif", targets=["Cirrhosis", "PBC", "THepatitis"])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
