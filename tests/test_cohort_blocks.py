"""A case's posterior does not depend on the other cases scored with it: the cohort is handed to
the engine in blocks of one shape whatever the engine's own chunking (bayesdx.cohort)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesdx
from bayesdx import cohort

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("chunk", [1, 7, 50, 127, 400], ids=lambda c: f"chunk{c}")
def test_any_engine_chunk_any_cut_same_bits(chunk):
    net = bayesdx.load_network(DATA / "hepar2.bif", targets=["Cirrhosis", "PBC", "Steatosis"])
    engine = net.engine
    engine.cohort_batch_floats = engine.total_clique_size * (chunk + 0.5)  # this network only
    rows = cohort._rows_per_call(engine)
    # every call is whole engine chunks (or one call within one chunk)
    assert rows >= cohort.ROWS_PER_CALL and (rows % chunk == 0 or chunk >= rows)
    cases, _ = bayesdx.simulate(net, 400 if chunk > 1 else 140, seed=chunk, missing=0.4)
    whole = bayesdx.posteriors(net, cases).to_numpy()
    rng = np.random.default_rng(chunk)
    for _ in range(3):
        cuts = np.sort(rng.choice(np.arange(1, len(cases)), size=4, replace=False))
        pieces = [bayesdx.posteriors(net, cases.iloc[a:b]) for a, b in zip([0, *cuts], [*cuts, len(cases)])]
        assert np.array_equal(pd.concat(pieces).to_numpy(), whole)
    # and the answers are right: pgmpy's variable elimination, case by case
    exact = bayesdx.posteriors(net.with_engine("pgmpy"), cases.iloc[:4]).to_numpy()
    assert np.allclose(whole[:4], exact, atol=1e-9)
