"""The part of a survival posterior that predictions read, without ArviZ.

A cohort worker needs a handful of the posterior's variables (the linear predictor's and
the hazard family's, :func:`~rhcc_bayes.survival.predict.prediction_variables`), the
``constant_data`` group and the root attrs (evidence support, gate verdict, hazard family)
— not the other variables, sample stats, log likelihood or predictive groups, and not the
ArviZ import (~200 MB of modules). :class:`PredictionPosterior` has the ``posterior``,
``constant_data`` and ``attrs`` that :func:`~rhcc_bayes.survival.summary.survival_summary`
and the decision layer use, with the very same float64 arrays: results are bit-identical
to those of the full InferenceData.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import xarray as xr

from rhcc_bayes.survival.predict import prediction_variables


@dataclass(frozen=True)
class PredictionPosterior:
    """``posterior`` (only the prediction variables), ``constant_data`` and root ``attrs``."""

    posterior: xr.Dataset
    constant_data: xr.Dataset
    attrs: dict = field(default_factory=dict)


def prediction_posterior(source) -> PredictionPosterior:
    """The prediction part of a survival posterior.

    Parameters
    ----------
    source : InferenceData, DataTree, PredictionPosterior, path or bytes
        An in-memory posterior (variables selected, arrays shared, nothing copied) or a
        netCDF file written by :func:`~rhcc_bayes.inference.cache.save_idata` or
        :func:`to_netcdf_bytes`, given as a path or as its bytes (only the needed
        variables are read from it).
    """
    if isinstance(source, PredictionPosterior):
        return source
    if isinstance(source, (bytes, bytearray, memoryview, str, os.PathLike)):
        from rhcc_bayes.inference.cache import load_attrs, load_group

        attrs, _ = load_attrs(source)
        shell = PredictionPosterior(xr.Dataset(), load_group(source, "constant_data"), attrs)
        posterior = load_group(source, "posterior", prediction_variables(shell))
        return PredictionPosterior(posterior, shell.constant_data, attrs)
    post, const = _dataset(source.posterior), _dataset(source.constant_data)
    names = [v for v in prediction_variables(source) if v in post.data_vars]
    return PredictionPosterior(post[names], const, dict(source.attrs))


def _dataset(group) -> xr.Dataset:
    """A group of an InferenceData (a Dataset) or of a cached DataTree (a node), as a Dataset."""
    return group.to_dataset() if isinstance(group, xr.DataTree) else group


def to_netcdf_bytes(view: PredictionPosterior) -> bytes:
    """``view`` as the bytes of a netCDF file that :func:`prediction_posterior` reads back
    exactly (a few MB for the default 8,000-draw posterior, vs ~23 MB for the full file)."""
    tree = xr.DataTree.from_dict({"/": xr.Dataset(attrs=view.attrs), "posterior": view.posterior,
                                  "constant_data": view.constant_data})
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "prediction.nc"
        tree.to_netcdf(path, engine="h5netcdf")
        return path.read_bytes()
