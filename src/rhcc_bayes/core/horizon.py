"""The one bound on time horizons: RMST horizons, prediction landmarks, study follow-up.

20 years: no R-HCC cohort is followed longer, and beyond it S(t) is the hazard family's
extrapolation only.
"""

from __future__ import annotations

import math
import numbers

MAX_HORIZON_MONTHS = 240.0


def is_horizon(value) -> bool:
    """True for a real number of months in (0, 240] (not a bool)."""
    return (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
            and 0 < value <= MAX_HORIZON_MONTHS)
