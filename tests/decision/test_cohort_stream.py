"""Streaming a cohort CSV: same rows as the in-memory table, chunk/worker/cluster independent bytes,
file:line:column errors, nothing half-written on error or interrupt."""

from __future__ import annotations

import json

import pytest

from rhcc_bayes.core.errors import ValidationError
from rhcc_bayes.decision.cohort_stream import read_cohort_chunks, stream_cohort

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference(small_fit, examples_dir):
    """The in-memory table of the example cohort, from the design (not only the posterior file)."""
    from rhcc_bayes.decision.profile import load_cohort
    from rhcc_bayes.decision.recommend import decide_cohort_table

    _, post = small_fit
    return decide_cohort_table(post.idata, load_cohort(examples_dir / "cohort.csv"), design=post.design)


def test_chunks_give_the_in_memory_table_byte_for_byte(small_fit, examples_dir, reference, tmp_path):
    _, post = small_fit
    out = tmp_path / "res.csv"
    n = stream_cohort(post.idata, examples_dir / "cohort.csv", out, chunk_rows=7)  # 3 chunks: 7 + 7 + 6
    assert n == 20
    assert out.read_text() == reference.to_csv(index=False)
    js = tmp_path / "res.json"
    stream_cohort(post.idata, examples_dir / "cohort.csv", js, fmt="json", chunk_rows=7)
    assert json.loads(js.read_text()) == json.loads(reference.to_json(orient="records"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res.csv", "res.json"]  # no temporaries


def test_process_pool_and_dask_cluster_give_the_same_bytes(small_fit, examples_dir, tmp_path):
    from distributed import LocalCluster

    _, post = small_fit
    local = tmp_path / "local.csv"
    stream_cohort(post.idata, examples_dir / "cohort.csv", local, chunk_rows=6)
    pool = tmp_path / "pool.csv"
    stream_cohort(post.idata, examples_dir / "cohort.csv", pool, chunk_rows=6, workers=2)
    assert pool.read_bytes() == local.read_bytes()
    with LocalCluster(n_workers=2, processes=False, dashboard_address=None) as cluster:
        dist = tmp_path / "dist.csv"
        stream_cohort(post.idata, examples_dir / "cohort.csv", dist, chunk_rows=6, scheduler=cluster.scheduler_address)
    assert dist.read_bytes() == local.read_bytes()


def _cohort_with_bad_row(examples_dir, tmp_path, line: int):
    rows = (examples_dir / "cohort.csv").read_text().splitlines()
    cells = rows[line - 1].split(",")
    cells[3] = "-4"  # months_since_treatment
    rows[line - 1] = ",".join(cells)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(rows) + "\n")
    return bad


def test_bad_row_names_file_line_column_and_keeps_the_old_output(small_fit, examples_dir, tmp_path):
    _, post = small_fit
    bad = _cohort_with_bad_row(examples_dir, tmp_path, 15)
    out = tmp_path / "res.csv"
    out.write_text("previous results\n")
    with pytest.raises(ValidationError) as err:
        stream_cohort(post.idata, bad, out, chunk_rows=4)  # the error is in the 4th chunk
    assert f"{bad}:15" in str(err.value) and "months_since_treatment" in str(err.value)
    assert out.read_text() == "previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "res.csv"]


def test_interrupt_leaves_nothing(small_fit, examples_dir, tmp_path):
    _, post = small_fit
    out = tmp_path / "res.csv"

    def interrupt(n):
        if n >= 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stream_cohort(post.idata, examples_dir / "cohort.csv", out, chunk_rows=5, progress=interrupt)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("text,needle", [
    (b"", "empty file"),
    (b"id,nodules\n", "no profiles"),
    (b"id,nodulez\na,1\n", "unknown column"),
    (b"id,nodules\na,1\na,2\n", ":3: column 'id': duplicate id (first on line 2)"),
    (b"id,nodules\na,1,2\n", ":2: expected 2 cells, found 3"),
    (b"id,nodules\n\xff\xfe,1\n", "not UTF-8"),
])
def test_reader_errors(text, needle, tmp_path):
    p = tmp_path / "c.csv"
    p.write_bytes(text)
    with pytest.raises(ValidationError) as err:
        list(read_cohort_chunks(p))
    assert needle in str(err.value) and str(p) in str(err.value)


def test_stale_temporary_of_a_killed_run_is_removed(small_fit, examples_dir, tmp_path):
    import os
    import time

    _, post = small_fit
    stale, fresh = tmp_path / ".res.csv.abc123.tmp", tmp_path / ".res.csv.def456.tmp"
    for p in (stale, fresh):
        p.write_text("partial")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    stream_cohort(post.idata, examples_dir / "cohort.csv", tmp_path / "res.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == [fresh.name, "res.csv"]  # a recent one may be live


def test_cohort_flagger_equals_treatment_flags_for_every_profile(small_fit):
    """The bit-mask flagger the cohort path uses gives exactly ``treatment_flags``'s output."""
    import numpy as np

    from rhcc_bayes.decision.honesty import CohortFlagger, support_tables, treatment_flags
    from rhcc_bayes.decision.profile import UNKNOWN, PatientProfile

    _, post = small_fit
    idata = post.idata
    support, arms = support_tables(idata, post.design)
    treatments = idata.posterior["mu"].treatment.values.tolist()
    is_abl = dict(zip(treatments, idata.constant_data["is_ablation"].values.astype(bool).tolist()))
    flagger = CohortFlagger(treatments, is_abl, support, arms)
    rng = np.random.default_rng(3)
    profiles = [PatientProfile(
        id=f"p{i}",
        tumour_size_cm=UNKNOWN if rng.random() < 0.15 else float(rng.choice([0.8, 2, 3, 3.1, 5, 5.5, 8, 15])),
        nodules=UNKNOWN if rng.random() < 0.15 else int(rng.integers(1, 8)),
        months_since_treatment=UNKNOWN if rng.random() < 0.15 else float(rng.choice([3, 11.9, 12, 30])),
        prior_treatment=str(rng.choice(["resection", "transplant", "ablation", UNKNOWN])),
    ) for i in range(150)]
    n_extrapolated = 0
    for p in profiles:
        expected = [treatment_flags(p, t, is_abl[t], support, arms) for t in treatments]
        got = flagger.flags(p)
        assert [(a, b, list(m)) for a, b, m in got] == [(a, b, list(m)) for a, b, m in expected], p
        n_extrapolated += sum(e[1] for e in expected)
    assert n_extrapolated > 0  # the comparison covered extrapolation messages
    assert flagger.flags(profiles[0]) == flagger.flags(profiles[0])  # cached path too


def _varied_cohort(n: int, seed: int = 5) -> list:
    """Random profiles over every covariate level and many candidate sets."""
    import numpy as np

    from rhcc_bayes.decision.profile import UNKNOWN, PatientProfile

    rng = np.random.default_rng(seed)

    def tri():
        return [True, False, UNKNOWN][int(rng.integers(0, 3))]

    return [PatientProfile(
        id=f"p{i}",
        tumour_size_cm=UNKNOWN if rng.random() < 0.1 else float(np.round(rng.uniform(0.5, 12), 1)),
        nodules=int(rng.integers(1, 7)),
        months_since_treatment=float(np.round(rng.uniform(1, 80), 1)),
        microvascular_invasion=tri(), afp_ng_ml=float(rng.integers(1, 2000)),
        child_pugh=str(rng.choice(["A", "B", "C", UNKNOWN])), portal_hypertension=tri(),
        ecog=int(rng.integers(0, 3)), prior_treatment=str(rng.choice(["resection", "transplant", "ablation", UNKNOWN])),
        extrahepatic_spread=tri(), portal_vein_thrombus=tri(), near_gallbladder=tri(), near_bowel=tri(),
        near_diaphragm=tri(), near_large_vessel=tri(), resection_candidate=tri(), transplant_candidate=tri(),
    ) for i in range(n)]


@pytest.mark.parametrize("population", ["average", "new"])
def test_prediction_posterior_gives_the_rows_of_the_full_posterior(small_fit, population):
    """Workers read only the prediction variables from the posterior's netCDF bytes: same bytes."""
    from rhcc_bayes.decision.cohort import CohortDecider
    from rhcc_bayes.decision.cohort_stream import render
    from rhcc_bayes.survival.prediction_posterior import prediction_posterior, to_netcdf_bytes

    _, post = small_fit
    profiles = _varied_cohort(80)
    options = dict(population=population, seed=2, horizon=48)
    full = CohortDecider(post.idata, **options).table(profiles)
    lean = CohortDecider(prediction_posterior(to_netcdf_bytes(prediction_posterior(post.cache_path))),
                         **options).table(profiles)
    assert full["treatment"].nunique() > 10 and full["rmst_mean"].nunique() > 100  # a varied cohort
    assert lean.equals(full)
    assert render(lean, "csv", True) == render(full, "csv", True)
    assert render(lean, "json", False) == render(full, "json", False)


def test_decider_keeps_tables_not_summaries(small_fit):
    """A survival summary (every draw) is computed only for a table not yet cached, never kept."""
    from rhcc_bayes.decision.cohort import CohortDecider

    _, post = small_fit
    decider = CohortDecider(post.idata)
    calls = []
    real = decider.summary_for
    decider.summary_for = lambda cov: calls.append(cov) or real(cov)
    profiles = _varied_cohort(40, seed=8)
    first = decider.table(profiles)
    n_covariate_sets = len({tuple(p.model_covariates().items()) for p in profiles})
    assert 0 < len(calls) == n_covariate_sets  # one summary per combination within a chunk
    calls.clear()
    assert decider.table(profiles).equals(first)
    assert calls == []  # every table cached: no summary recomputed
    assert not any(hasattr(v, "data_vars") for v in vars(decider).values())  # no Dataset of draws kept


def test_pool_worker_reads_the_prediction_posterior_without_arviz(small_fit, examples_dir):
    """What a spawned pool worker runs: decider from the prediction bytes, no ArviZ import."""
    import os
    import subprocess
    import sys

    from rhcc_bayes.inference.diagnostics import gate_banner
    from rhcc_bayes.survival.prediction_posterior import prediction_posterior, to_netcdf_bytes

    _, post = small_fit
    data = to_netcdf_bytes(prediction_posterior(post.idata))
    assert len(data) < post.cache_path.stat().st_size / 3
    code = (
        "import sys\n"
        "from rhcc_bayes.decision import cohort_stream as cs\n"
        f"cs._init_pool_worker(sys.stdin.buffer.read(), {{'gate_warning': {gate_banner(post.idata)!r}}})\n"
        f"chunk = next(cs.read_cohort_chunks({str(examples_dir / 'cohort.csv')!r}, 100))\n"
        "sys.stdout.write(cs._pool_chunk_text(chunk, 'csv', True))\n"
        "print('arviz' in sys.modules, 'pymc' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, env=env, check=True).stdout
    text, modules = out.decode().rsplit("\n", 2)[:2]
    assert modules == "False False"
    from rhcc_bayes.decision.cohort import CohortDecider
    from rhcc_bayes.decision.cohort_stream import render

    chunk = next(read_cohort_chunks(examples_dir / "cohort.csv", 100))
    assert text + "\n" == render(CohortDecider(post.idata).table(chunk), "csv", True)


def test_csv_text_is_pandas_to_csv_byte_for_byte():
    """The fast csv writer on awkward cells: -0.0, nan, inf, quotes, commas, newlines, mixed objects."""
    import numpy as np
    import pandas as pd

    from rhcc_bayes.decision.cohort_stream import csv_text

    rng = np.random.default_rng(0)
    n = 25_000  # more than one block of 10,000 rows
    floats = rng.choice([0.1, -0.0, 0.0, np.nan, np.inf, -np.inf, 1e-300, 2 / 3, 44.55, 1e22], n)
    table = pd.DataFrame({
        "profile": rng.choice(['a', 'b,c', 'say "hi"', 'two\nlines', 'cr\rx', ' lead', ''], n),
        "x": floats, "x32": floats.astype(np.float32), "k": rng.integers(-3, 3, n),
        "ok": rng.random(n) < 0.5, "maybe": rng.choice(np.array(["yes", None, np.nan], object), n),
        "mixed": rng.choice(np.array([1, 1.0, True, "1", None, "a,b"], object), n),
        "none": np.array([None] * n, object),
    })
    for header in (True, False):
        assert csv_text(table, header=header) == table.to_csv(index=False, header=header)
    one = pd.DataFrame({"only": ["", "a", None]})
    assert csv_text(one) == one.to_csv(index=False)
    assert csv_text(table.iloc[:0]) == table.iloc[:0].to_csv(index=False)
