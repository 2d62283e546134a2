"""The decision report: one folder with ``report.html`` (self-contained), ``report.md`` (+ PNGs),
``decision.csv``, ``decision.json``, ``posterior.nc`` and a marker file.

The content is the list of section objects in :mod:`rhcc_bayes.report.sections`; this
module renders them and writes the folder safely:

- everything goes to a temporary folder beside the target, moved into place at the end,
  so a failure leaves no half-written report (and an existing report untouched);
- the target must be new, an empty folder, or a report this command wrote before (the
  marker file ``.rhcc-bayes-report`` lists its files). Anything else — a folder with other
  files, a file — is refused with a :class:`~rhcc_bayes.core.errors.UserError` before any
  work: a report never deletes or renames files it did not write.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rhcc_bayes.core.errors import UserError
from rhcc_bayes.report.sections import (  # noqa: F401
    LIMITATIONS,
    SECTIONS,
    ReportContext,
    render_sections,
)
from rhcc_bayes.report.writers import Figure, Panel, to_html, to_markdown

MARKER = ".rhcc-bayes-report"


def _log(msg: str) -> None:
    print(f"[report] {msg}", file=sys.stderr, flush=True)


# --- the target folder ---------------------------------------------------------------------
#: What reports written before the marker existed hold (all of the first four, nothing else).
_LEGACY_REQUIRED = {"report.html", "report.md", "decision.json", "posterior.nc"}
_LEGACY_FILES = _LEGACY_REQUIRED | {"decision.csv", "survival_curves.png", "rmst_densities.png", "evidence_map.png",
                                    "forest.png", "ppc.png", "trace_rank.png"}


def _marker_files(folder: Path) -> set[str] | None:
    """Files of a previous report in ``folder`` (from its marker), or None when it is not one."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        return {str(f) for f in data["files"]} | {MARKER}
    except FileNotFoundError:
        entries = {p.name for p in folder.iterdir()}
        if _LEGACY_REQUIRED <= entries <= _LEGACY_FILES:  # a report of an earlier version, without marker
            return entries
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def check_report_target(out_dir) -> Path:
    """Refuse an output folder the report may not replace; returns the path.

    Allowed: a path that does not exist, an empty folder, or a previous report whose folder
    holds only the files its marker lists.

    Raises
    ------
    UserError
        For an existing file, the working folder or one of its parents, a folder that is not
        a previous report, or a previous report with files added since.
    """
    out = Path(out_dir)
    if str(out_dir).strip() == "":
        raise UserError("--out: give a folder name for the report")
    resolved = out.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents or resolved.parent == resolved:
        raise UserError(f"--out {out_dir}: refusing to write the report over the working folder or one of its "
                        "parents; give a new folder name, e.g. --out report")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise UserError(f"--out {out_dir}: exists and is not a folder; the report writes a folder and will not "
                        "replace a file. Give a new folder name.")
    if out.is_dir():
        entries = {p.name for p in out.iterdir()}
        if entries:
            listed = _marker_files(out)
            if listed is None:
                shown = ", ".join(sorted(entries)[:5]) + (" ..." if len(entries) > 5 else "")
                raise UserError(f"--out {out_dir}: folder exists and is not a previous report (no {MARKER} marker; "
                                f"contains {shown}); refusing to replace it. Give a new or empty folder.")
            extra = sorted(entries - listed)
            if extra:
                raise UserError(f"--out {out_dir}: this previous report folder now also holds files the report did "
                                f"not write ({', '.join(extra[:5])}); refusing to delete them. Move them or give "
                                "another folder.")
    return out


def _replace_dir(src: Path, dst: Path) -> None:
    """Move the finished folder into place; a previous report at ``dst`` is replaced only now."""
    if dst.is_dir() and any(dst.iterdir()):
        old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".old", dir=dst.parent))
        os.replace(dst, old / "report")
        try:
            os.replace(src, dst)
        except BaseException:
            os.replace(old / "report", dst)
            shutil.rmtree(old, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)  # a missing or empty folder


def _figures(blocks):
    for b in blocks:
        if isinstance(b, Figure):
            yield b
        elif isinstance(b, Panel):
            yield from _figures(b.blocks)


# --- the report ------------------------------------------------------------------------------
def build_report(posterior, evidence, profile, out_dir, *, horizon: float = 60, population: str = "average",
                 utility=None, seed: int = 0, sections=SECTIONS) -> Path:
    """Write the report folder ``out_dir`` for ``profile`` from a fitted survival posterior.

    Parameters
    ----------
    posterior : SynthesisPosterior
        From ``Synthesis(...).fit()`` (``idata``, ``design``, ``gate``, ``cache_hit``, ``cache_path``).
    evidence : Evidence
    profile : PatientProfile
    out_dir : path
        New folder, empty folder or a previous report (see :func:`check_report_target`).
    sections : sequence of Section
        The content, top to bottom (default :data:`rhcc_bayes.report.sections.SECTIONS`).

    Returns the final folder path. On any error nothing is left at ``out_dir`` (an existing
    report is kept untouched) and the temporary folder is removed.
    """
    from rhcc_bayes.decision.recommend import decide_profile
    from rhcc_bayes.inference.cache import remove_stale_temporaries, save_idata

    out_dir = check_report_target(out_dir)
    parent = out_dir.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("tmp", "old"):  # leftovers of an interrupted earlier run into the same folder
            remove_stale_temporaries(parent, f"{glob.escape(out_dir.name)}.*.{suffix}")
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=parent))
    except OSError as err:
        raise UserError(f"cannot write the report to {out_dir}: {err.strerror or err}") from None
    t0 = time.perf_counter()
    try:
        _log("deciding ...")
        res = decide_profile(posterior.idata, profile, horizon=horizon, population=population, utility=utility,
                             seed=seed, design=posterior.design)
        ctx = ReportContext(posterior=posterior, evidence=evidence, profile=profile, decision=res,
                            horizon=horizon, population=population, seed=seed)
        _log("sections and figures ...")
        blocks = render_sections(sections, ctx)
        files = []
        for fig in _figures(blocks):
            (tmp / fig.name).write_bytes(fig.png)
            files.append(fig.name)
        _log("writing files ...")
        title = f"R-HCC salvage treatment report: {profile.id}"
        (tmp / "report.md").write_text(to_markdown(blocks), encoding="utf-8")
        (tmp / "report.html").write_text(to_html(title, blocks), encoding="utf-8")
        table = res.table.copy()
        table.insert(0, "profile", profile.id)
        table["gate_warning"] = res.gate_warning
        table.to_csv(tmp / "decision.csv", index=False)
        (tmp / "decision.json").write_text(json.dumps(res.to_dict(), indent=2, default=str), encoding="utf-8")
        save_idata(posterior.idata, tmp / "posterior.nc")
        files += ["report.md", "report.html", "decision.csv", "decision.json", "posterior.nc"]
        (tmp / MARKER).write_text(json.dumps({"written_by": "rhcc-bayes report", "profile": profile.id,
                                              "files": sorted(files)}, indent=1), encoding="utf-8")
        os.chmod(tmp, 0o755)
        check_report_target(out_dir)  # nothing appeared there meanwhile
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _log(f"wrote {out_dir} in {time.perf_counter() - t0:.1f} s")
    return out_dir
