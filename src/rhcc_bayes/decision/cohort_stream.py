"""Stream a cohort CSV of any size through :class:`~rhcc_bayes.decision.cohort.CohortDecider`.

The CSV is read and validated chunk by chunk (every problem names file:line and column), each
chunk's decision table is rendered to csv or json text, and the texts are appended in file
order to a temporary file beside the output that replaces it only when every chunk is done:
an error or Ctrl-C leaves nothing half-written. Memory is bounded by a few chunks, whatever
the cohort size.

Chunks run in this process (``workers=1``), in a local process pool (``workers>1``), or on an
existing dask.distributed cluster (``scheduler=ADDRESS``). Workers get only what the decision
reads (:mod:`rhcc_bayes.survival.prediction_posterior`: 9 of the posterior's variables and
its attrs, ~2.5 MB as netCDF bytes, sent once per worker, not with every chunk), never import
ArviZ, and rebuild the decider once; the output bytes do not depend on where a chunk ran.

Memory of a 100k-patient run with the default 8,000-draw posterior, largest process
(``benchmarks/cohort_scale.py``): 1,181 MB before this design, of which ~650 MB were the
cached survival summaries (~100 covariate combinations x 7 MB of draws), ~320 MB the
imports (ArviZ alone ~200 MB) and ~65 MB the whole posterior; now the summaries are not
kept (:class:`~rhcc_bayes.decision.cohort.CohortDecider`) and a worker process holds the
imports of the decision layer, the 2.6 MB prediction posterior and a few chunks.
"""

from __future__ import annotations

import csv
import hashlib
import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from rhcc_bayes.core.errors import Problem, UserError, ValidationError

#: Patients per chunk: ~21 rows x 41 columns each, a chunk's table and text ~15 MB. Larger
#: chunks do not speed up (per-chunk costs are cached away) but raise the peak memory:
#: 10k patients peaked at 280 MB with chunks of 500, 360 MB with 2000, 880 MB with 5000.
CHUNK_ROWS = 1000


def read_cohort_chunks(csv_path, chunk_rows: int = CHUNK_ROWS) -> Iterator[list]:
    """Yield lists of validated :class:`PatientProfile` of at most ``chunk_rows`` patients.

    Raises
    ------
    ValidationError
        At the first chunk with problems: every problem of that chunk, each with file,
        line (header = line 1) and column; duplicate ids are checked across the whole file.
    """
    from rhcc_bayes.decision.profile import PatientProfile, _validate, cohort_header_problems

    path = Path(csv_path)
    src = str(path)
    if path.is_dir():
        raise ValidationError([Problem(src, "is a folder, not a cohort CSV")])
    try:
        f = open(path, encoding="utf-8-sig", newline="")
    except OSError as err:
        raise ValidationError([Problem(src, f"cannot read cohort: {err.strerror}")]) from None
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
        except (UnicodeDecodeError, csv.Error) as err:
            raise ValidationError([Problem(src, _why(err), line=1)]) from None
        if not header or not any(h.strip() for h in header):
            raise ValidationError([Problem(src, "empty file: expected a header of profile fields", line=1)])
        header = [h.strip() for h in header]
        problems, dupes = cohort_header_problems(src, header)
        if problems:
            raise ValidationError(problems)
        seen: dict[str, int] = {}
        chunk: list = []
        lineno = 1
        n = 0
        while True:
            try:
                row = next(reader, None)
            except (UnicodeDecodeError, csv.Error) as err:
                raise ValidationError([*problems, Problem(src, _why(err), line=reader.line_num)]) from None
            if row is None:
                break
            lineno = reader.line_num
            if not any(c.strip() for c in row):
                continue
            if len(row) != len(header):
                problems.append(Problem(src, f"expected {len(header)} cells, found {len(row)}", line=lineno))
                continue
            values, row_problems = _validate(dict(zip(header, row)), src, text=True, line=lineno)
            values.setdefault("id", f"row{lineno}")
            first = seen.setdefault(values["id"], lineno)
            if first != lineno:
                row_problems.append(Problem(src, f"duplicate id (first on line {first})", line=lineno,
                                            column="id", value=values["id"]))
            if row_problems:
                problems += row_problems
                continue
            chunk.append(PatientProfile(**values))
            n += 1
            if len(chunk) >= chunk_rows:
                if problems:
                    raise ValidationError(problems)
                yield chunk
                chunk = []
        if problems:
            raise ValidationError(problems)
        if not n:
            raise ValidationError([Problem(src, "no profiles: the file has a header but no rows")])
        if chunk:
            yield chunk


def _why(err) -> str:
    return "not UTF-8 text" if isinstance(err, UnicodeDecodeError) else f"malformed CSV: {err}"


# --- one chunk, wherever it runs ---------------------------------------------------------
_DECIDERS: dict = {}  # per worker process: (posterior digest, options) -> CohortDecider


def _decider(posterior, options: dict):
    """The worker's decider for ``posterior``: the netCDF bytes of its prediction part
    (:func:`~rhcc_bayes.survival.prediction_posterior.to_netcdf_bytes`), or an in-memory posterior."""
    from rhcc_bayes.decision.cohort import CohortDecider
    from rhcc_bayes.survival.prediction_posterior import prediction_posterior

    if not isinstance(posterior, (bytes, bytearray, memoryview)):
        return CohortDecider(prediction_posterior(posterior), **options)
    key = (hashlib.sha256(posterior).hexdigest(), tuple(sorted(options.items())))
    if key not in _DECIDERS:
        _DECIDERS.clear()  # one posterior per worker at a time
        _DECIDERS[key] = CohortDecider(prediction_posterior(bytes(posterior)), **options)
    return _DECIDERS[key]


def chunk_text(posterior, options: dict, profiles: list, fmt: str, first: bool) -> str:
    """The csv rows (with the header when ``first``) or json records of one chunk (on a worker)."""
    return render(_decider(posterior, options).table(profiles), fmt, first)


_POOL_DECIDER: list = []  # a local pool worker's decider, built once by its initializer


def _init_pool_worker(data: bytes, options: dict) -> None:
    _POOL_DECIDER[:] = [_decider(data, options)]


def _pool_chunk_text(profiles: list, fmt: str, first: bool) -> str:
    return render(_POOL_DECIDER[0].table(profiles), fmt, first)


def render(table, fmt: str, first: bool) -> str:
    """A chunk's table as csv rows (header only for the first chunk) or json records."""
    if fmt == "json":
        body = table.to_json(orient="records", indent=1)
        inner = body.strip()[1:-1].strip("\n")  # records without the enclosing [ ]
        return ("" if first else ",\n") + inner
    return csv_text(table, header=first)


def csv_text(table, header: bool = True) -> str:
    """``table.to_csv(index=False, header=header)``, the same bytes, ~10x faster.

    pandas formats floats with numpy (Dragon4), the costliest step of a cohort (630 numbers
    per patient); Python's ``repr`` gives the same shortest round-trip text faster. A
    cohort's table repeats a few hundred distinct per-treatment tables, so each distinct
    cell (float bit pattern, integer, string) is formatted and csv-quoted once and the
    rows are joined from those texts. ``tests/decision/test_cohort_stream.py`` checks the
    bytes against pandas.
    """
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header:
        writer.writerow([str(c) for c in table.columns])
    if len(table.columns) < 2:  # the csv module quotes a lone empty field: let it write the rows
        for start in range(0, len(table), 10_000):
            writer.writerows(zip(*(_cell_values(table[name].iloc[start:start + 10_000])
                                   for name in table.columns)))
        return buf.getvalue()
    parts = [buf.getvalue()]
    quote = _Quoter()
    for start in range(0, len(table), 10_000):  # blocks: the per-cell strings stay few
        cols = [_cell_texts(table[name].iloc[start:start + 10_000], quote) for name in table.columns]
        parts.append("".join(line + "\n" for line in map(",".join, zip(*cols))))
    return "".join(parts)


def _cell_values(col) -> list:
    """A column's cells as the strings ``DataFrame.to_csv`` writes, before csv quoting."""
    import math

    import pandas as pd

    kind = col.dtype.kind
    if kind == "f":
        return ["" if math.isnan(v) else repr(v) for v in col.tolist()]
    if kind in "biu":
        return [str(v) for v in col.tolist()]
    return ["" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v) for v in col.tolist()]


class _Quoter:
    """One field as the csv writer writes it inside a row of several (quoting as needed)."""

    def __init__(self):
        import io

        self._buf = io.StringIO()
        self._writer = csv.writer(self._buf, lineterminator="\n")

    def __call__(self, text: str) -> str:
        self._buf.seek(0)
        self._buf.truncate()
        self._writer.writerow([text, ""])
        return self._buf.getvalue()[:-2]  # without the empty second field and the newline


def _cell_texts(col, quote) -> list[str]:
    """The csv texts of a column's cells, each distinct value formatted and quoted once."""
    import numpy as np
    import pandas as pd

    kind = col.dtype.kind
    if kind == "f" and col.dtype.itemsize == 8:  # by bit pattern: -0.0 and 0.0 differ, NaN is ""
        codes, uniq = pd.factorize(col.to_numpy(dtype=np.float64).view(np.int64))
        texts = _cell_values(pd.Series(uniq.view(np.float64)))  # never quoted: digits . e - + inf
    elif kind == "f":  # other widths, as pandas prints them (float32: its own shortest text)
        return ["" if np.isnan(v) else str(v) for v in col.to_numpy()]
    elif kind in "biu":
        codes, uniq = pd.factorize(col.to_numpy())
        texts = _cell_values(pd.Series(uniq))
    elif pd.api.types.infer_dtype(col, skipna=True) in ("string", "empty"):  # str or missing only
        codes, uniq = pd.factorize(col.to_numpy(dtype=object), use_na_sentinel=True)
        texts = [quote(v) for v in uniq.tolist()]
        texts.append("")  # code -1: None / NaN
    else:  # mixed objects (1 == 1.0 == True would share a code): cell by cell
        return [quote(v) for v in _cell_values(col)]
    return np.asarray(texts, dtype=object)[codes].tolist()


# --- the whole cohort -------------------------------------------------------------------
def stream_cohort(idata, csv_path, out, *, fmt: str = "csv", chunk_rows: int = CHUNK_ROWS, workers: int = 1,
                  scheduler: str | None = None, progress=None, **options) -> int:
    """Decide for every patient of ``csv_path`` and write the table to ``out`` atomically.

    Parameters
    ----------
    idata : InferenceData
        The survival posterior.
    out : path or None
        Output file (replaced atomically at the end); ``None`` writes to stdout.
    fmt : {"csv", "json"}
    workers : int
        Local worker processes (1: this process).
    scheduler : str, optional
        Address of an existing dask.distributed scheduler; chunks run on its workers.
    progress : callable, optional
        ``progress(patients_done)`` after each chunk.
    **options
        ``horizon``, ``population``, ``seed``, ``ci``, ``levels`` of :class:`CohortDecider`.
        The evidence support comes from the posterior file itself (no design object), so
        every worker, local or remote, computes the same bytes.

    Returns
    -------
    int
        Number of patients.
    """
    from rhcc_bayes.core.atomic import write_atomic

    if fmt not in ("csv", "json"):
        raise UserError(f"cohort output format must be csv or json, got {fmt!r}")
    chunks = read_cohort_chunks(csv_path, chunk_rows)
    done = [0]

    def write(target) -> None:
        with open(target, "w", encoding="utf-8", newline="") as fh:
            _write_all(fh, idata, chunks, fmt, workers, scheduler, options, done, progress)

    if out is None:
        _write_all(sys.stdout, idata, chunks, fmt, workers, scheduler, options, done, progress)
    else:
        import glob

        from rhcc_bayes.inference.cache import remove_stale_temporaries

        # a run killed hard (SIGKILL, power loss) leaves its temporary; an hour untouched = abandoned
        target = Path(out)
        remove_stale_temporaries(target.parent, f"{glob.escape(target.name)}.*.tmp")
        write_atomic(out, write)
    return done[0]


def _write_all(fh, idata, chunks, fmt, workers, scheduler, options, done, progress) -> None:
    if fmt == "json":
        fh.write("[\n")
    for text, n in _texts(idata, chunks, fmt, workers, scheduler, options):
        fh.write(text)
        done[0] += n
        if progress:
            progress(done[0])
    if fmt == "json":
        fh.write("\n]\n")


def _texts(idata, chunks, fmt, workers, scheduler, options):
    """(text, patients) per chunk, in file order."""
    from rhcc_bayes.decision.cohort import CohortDecider
    from rhcc_bayes.survival.prediction_posterior import prediction_posterior, to_netcdf_bytes

    if scheduler is None and workers <= 1:
        decider = CohortDecider(prediction_posterior(idata), **options)
        for i, profiles in enumerate(chunks):
            yield render(decider.table(profiles), fmt, i == 0), len(profiles)
        return
    # workers rebuild the decider from the prediction posterior's bytes, with this process's verdict
    from rhcc_bayes.inference.diagnostics import gate_banner

    options = {**options, "gate_warning": gate_banner(idata)}
    data = to_netcdf_bytes(prediction_posterior(idata))
    if scheduler is not None:
        yield from _run_distributed(scheduler, data, options, chunks, fmt)
    else:
        yield from _run_pool(workers, data, options, chunks, fmt)


def _ordered(submit, chunks, fmt, in_flight: int):
    """Submit chunks keeping at most ``in_flight`` pending; yield results in order."""
    pending: deque = deque()
    for i, profiles in enumerate(chunks):
        pending.append((submit(profiles, i == 0), len(profiles)))
        if len(pending) >= in_flight:
            fut, n = pending.popleft()
            yield fut.result(), n
    while pending:
        fut, n = pending.popleft()
        yield fut.result(), n


def _run_pool(workers, data, options, chunks, fmt):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the parent holds numba/BLAS threads (and ArviZ/PyMC, which a worker
    # does not import); the posterior goes to each worker once, chunks carry only profiles
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_pool_worker, initargs=(data, options)) as pool:
        try:
            yield from _ordered(lambda prof, first: pool.submit(_pool_chunk_text, prof, fmt, first),
                                chunks, fmt, 2 * workers)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _run_distributed(address, data, options, chunks, fmt):
    try:
        from distributed import Client
    except ImportError:
        raise UserError("--scheduler needs dask.distributed: pip install 'rhcc-bayes[dist]'") from None
    try:
        client = Client(address, timeout="10s")
    except OSError as err:
        raise UserError(f"--scheduler {address}: cannot connect ({err})") from None
    with client:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        print(f"cohort: {n_workers} dask worker(s) at {address}", file=sys.stderr)
        shared = client.scatter(data, broadcast=True)
        yield from _ordered(lambda prof, first: client.submit(chunk_text, shared, options, prof, fmt, first,
                                                              pure=False),
                            chunks, fmt, 2 * n_workers)
