"""Posterior-draw helpers shared by every stage: the sample dims and fast quantiles."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SAMPLE_DIMS = ("chain", "draw")


def quantiles(x: np.ndarray, qs: Sequence[float], interpolate: bool = True) -> list:
    """Quantiles along the last axis; same values as ``np.quantile`` (``linear``, or
    ``inverted_cdf`` when ``interpolate`` is False) at a fraction of the cost.

    numpy's partition has a fast (SIMD) path for a single ``kth`` only, so each
    quantile gets its own single-``kth`` partition; the next order statistic needed for
    interpolation is the minimum of the part above it, a cheap reduction.
    """
    n = x.shape[-1]
    out = []
    for q in qs:
        if interpolate:
            v = q * (n - 1)
            i = int(np.floor(v))
            frac = v - i
        else:  # inverted_cdf: smallest x with empirical CDF >= q
            i, frac = min(max(int(np.ceil(q * n)) - 1, 0), n - 1), 0.0
        part = np.partition(x, i, axis=-1)
        lower = part[..., i]
        if frac == 0.0 or i + 1 >= n:
            out.append(lower)
        else:
            out.append(lower + frac * (part[..., i + 1:].min(axis=-1) - lower))
    return out
