"""Scoring on Dask: a real two-worker LocalCluster (separate processes), results equal to the
in-memory ones to the last bit, the engine built once per worker, no row lost when a worker
restarts mid-run, errors that name the case and the column."""

import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesdx
from bayesdx import distributed as bd

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

DATA = Path(__file__).parent / "data"
HEPAR_TARGETS = ["Cirrhosis", "PBC", "Steatosis"]


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", worker_dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def fasciculation():
    return bayesdx.load_network("fasciculation")


@pytest.fixture(scope="module")
def hepar2():
    return bayesdx.load_network(DATA / "hepar2.bif", targets=HEPAR_TARGETS)


def _cases(net, n, seed, missing=0.4):
    cases, truth = bayesdx.simulate(net, n, seed=seed, missing=missing)
    # an index that is not 0..n-1, and object columns as read from a CSV
    index = pd.Index([f"case{i:05d}" for i in np.random.default_rng(seed).permutation(n)], name="id")
    cases = cases.astype(object).where(cases.notna(), None).set_axis(index)
    return cases, truth.astype(object).set_axis(index)


def _uneven(frame, cuts):
    """A Dask DataFrame cut at the given row positions (partitions of unequal sizes)."""
    import dask

    bounds = [0, *cuts, len(frame)]
    parts = [dask.delayed(frame.iloc[a:b], pure=True) for a, b in zip(bounds[:-1], bounds[1:])]
    return dd.from_delayed(parts, meta=frame.iloc[:0], verify_meta=False)


def _builds(client):
    return client.run(lambda: dict(bd.BUILDS))


def test_cut_anywhere_same_bits(hepar2, fasciculation):
    """In memory: a cohort scored whole, in random slices or case by case gives the same bits
    (the property the Dask path rests on)."""
    rng = np.random.default_rng(7)
    for net, n in ((hepar2, 500), (fasciculation, 70)):
        cases, _ = _cases(net, n, seed=1)
        whole = bayesdx.posteriors(net, cases, errors="nan").to_numpy()
        for _ in range(2):
            cuts = np.sort(rng.choice(np.arange(1, n), size=4, replace=False))
            pieces = [bayesdx.posteriors(net, cases.iloc[a:b], errors="nan")
                      for a, b in zip([0, *cuts], [*cuts, n])]
            assert np.array_equal(pd.concat(pieces).to_numpy(), whole, equal_nan=True)
        for i in rng.choice(n, 3, replace=False):
            alone = bayesdx.posteriors(net, cases.iloc[[i]], errors="nan").to_numpy()
            assert np.array_equal(alone[0], whole[i], equal_nan=True)


@pytest.mark.parametrize("which", ["fasciculation", "hepar2"], ids=["yaml", "bif-tables"])
def test_cluster_equals_in_memory_bit_for_bit(client, which, fasciculation, hepar2):
    net = fasciculation if which == "fasciculation" else hepar2
    cases, _ = _cases(net, 900 if which == "hepar2" else 120, seed=3)
    expected = bayesdx.posteriors(net, cases)
    lazy = bayesdx.posteriors(net, _uneven(cases, [1, 60, 61, 100]))
    assert isinstance(lazy, dd.DataFrame)
    got = client.compute(lazy).result()
    assert got.index.equals(expected.index)
    assert got.columns.equals(expected.columns)
    assert np.array_equal(got.to_numpy(), expected.to_numpy())
    if which != "hepar2":
        return
    # against an independent oracle too: pgmpy's variable elimination on a few cases
    from pgmpy.inference import VariableElimination

    ve = VariableElimination(net.model)
    target = net.targets[0]
    for case_id in got.index[:3]:
        evidence = {k: v for k, v in cases.loc[case_id].items() if v is not None}
        factor = ve.query([target], evidence=evidence, show_progress=False)
        oracle = [factor.values[factor.state_names[target].index(s)] for s in net.states(target)]
        assert np.allclose(got.loc[case_id, target].to_numpy(), oracle, atol=1e-9)


def test_engine_built_once_per_worker(client, hepar2):
    net = hepar2.with_targets(["Cirrhosis"])  # a network no other test ships
    key = bd.ShippedNetwork.from_network(net).key
    cases, _ = _cases(net, 300, seed=5)
    ddf = dd.from_pandas(cases, npartitions=8, sort=False)
    first = client.compute(bayesdx.posteriors(net, ddf)).result()
    second = client.compute(bayesdx.posteriors(net, ddf)).result()
    assert np.array_equal(first.to_numpy(), second.to_numpy())
    counts = [b.get(key, 0) for b in _builds(client).values()]
    assert len(counts) == 2 and max(counts) == 1 and sum(counts) >= 1, counts


def test_worker_restarted_mid_run_loses_no_rows(client, hepar2):
    cases, _ = _cases(hepar2, 12_000, seed=11)
    expected = bayesdx.posteriors(hepar2, cases)
    lazy = bayesdx.posteriors(hepar2, dd.from_pandas(cases, npartitions=30, sort=False))
    future = client.compute(lazy)

    def scored(dask_scheduler):
        return sum(ts.state == "memory" and "posteriors" in str(ts.key)
                   for ts in dask_scheduler.tasks.values())

    deadline = time.monotonic() + 120
    while client.run_on_scheduler(scored) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not future.done(), "the run ended before a worker could be restarted"
    victim = sorted(client.scheduler_info()["workers"])[0]
    client.restart_workers([victim])
    got = future.result(timeout=300)
    assert len(got) == len(cases) and list(got.index) == list(expected.index)
    assert np.array_equal(got.to_numpy(), expected.to_numpy())


def test_errors_name_the_case_and_the_column(client, hepar2):
    cases, _ = _cases(hepar2, 60, seed=2, missing=0.0)
    bad = cases.copy()
    bad.loc["case00042", "alt"] = "sky_high"
    with pytest.raises(bayesdx.UnknownStateError, match=r"'sky_high' for node 'alt'.*case00042") as info:
        client.compute(bayesdx.posteriors(hepar2, dd.from_pandas(bad, npartitions=4))).result()
    assert info.value.rows == ["case00042"]
    # a column that is not a node fails on the client, before any work is sent
    with pytest.raises(bayesdx.UnknownNodeError, match="altt"):
        bayesdx.posteriors(hepar2, dd.from_pandas(cases.rename(columns={"alt": "altt"}), npartitions=2))
    # impossible evidence (asia: 'either' is lung OR tub): named by its case, or NaN with
    # errors="nan" as in memory
    asia = bayesdx.load_network(DATA / "asia.bif", targets=["lung", "tub", "bronc"])
    impossible = pd.DataFrame({"lung": [None] * 8, "either": [None] * 8, "dysp": ["yes"] * 8},
                              index=[f"p{i}" for i in range(8)], dtype=object)
    impossible.loc["p5", ["lung", "either"]] = ["yes", "no"]
    ddf = dd.from_pandas(impossible, npartitions=2, sort=False)
    with pytest.raises(bayesdx.ImpossibleEvidenceError, match="p5"):
        client.compute(bayesdx.posteriors(asia, ddf)).result()
    with pytest.warns(UserWarning, match="impossible"):
        expected = bayesdx.posteriors(asia, impossible, errors="nan")
    assert expected.loc["p5"].isna().all() and expected.drop("p5").notna().all(axis=None)
    got = client.compute(bayesdx.posteriors(asia, ddf, errors="nan")).result()
    assert np.array_equal(got.to_numpy(), expected.to_numpy(), equal_nan=True)


def test_evaluate_on_the_cluster_equals_in_memory(client, hepar2):
    cases, truth = bayesdx.simulate(hepar2, 800, seed=4, missing=0.3)
    expected = bayesdx.evaluate(hepar2, cases, truth)
    got = bayesdx.evaluate(hepar2, dd.from_pandas(cases, npartitions=3),
                           dd.from_pandas(truth, npartitions=3))
    assert np.array_equal(got.scores.to_numpy(), expected.scores.to_numpy())
    pd.testing.assert_frame_equal(got.per_disease(), expected.per_disease())
    pd.testing.assert_frame_equal(got.top_k(), expected.top_k())
    with pytest.raises(bayesdx.InvalidEvidenceError, match="same partitions"):
        bayesdx.evaluate(hepar2, dd.from_pandas(cases, npartitions=3),
                         dd.from_pandas(truth, npartitions=2))
    with pytest.raises(bayesdx.InvalidParameterError, match="sequential"):
        bayesdx.evaluate(hepar2, dd.from_pandas(cases, npartitions=3),
                         dd.from_pandas(truth, npartitions=3), sequential="information")


def test_shipped_network_is_small_plain_data(fasciculation, hepar2, tmp_path):
    with pytest.raises(TypeError):  # a Network itself does not pickle
        pickle.dumps(fasciculation)
    for net, kind in ((fasciculation, "yaml"), (hepar2, "tables")):
        shipped = bd.ShippedNetwork.from_network(net)
        assert shipped.kind == kind and shipped.nbytes < 400_000
        assert b"pgmpy" not in pickle.dumps(shipped)
        back = shipped.build()
        assert back.targets == net.targets and back.tests == net.tests
        assert all(np.array_equal(back.arrays.cpts[n], net.arrays.cpts[n]) for n in net.nodes)
    # a file edited after loading: its text no longer gives the loaded tables, which ship instead
    path = tmp_path / "two.yaml"
    text = (DATA / "two_disease.yaml").read_text()
    path.write_text(text)
    net = bayesdx.load_network(path)
    assert bd.ShippedNetwork.from_network(net).kind == "yaml"
    path.write_text(text.replace('{"no": 0.7, "yes": 0.3}', '{"no": 0.6, "yes": 0.4}', 1))
    shipped = bd.ShippedNetwork.from_network(net.with_targets(["flu"]))
    assert shipped.kind == "tables" and shipped.build().arrays.cpts["smoker"][1] == 0.3
    assert shipped.key != bd.ShippedNetwork.from_network(net).key


def test_without_dask_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.dataframe", None)
    with pytest.raises(ImportError, match=r'pip install "bayesdx\[dask\]"'):
        bd.require_dask()
    assert not bd.is_dask_dataframe(pd.DataFrame())
