"""The normal-softplus bound: the sampling coordinate of bounded levels and positive scales.

``x = bound + side * c * F(t)`` with ``F(t) = t Phi(t) + phi(t)`` (the normal softplus); used by
:mod:`~rhcc_bayes.survival.steps` (size levels bounded by another level) and
:mod:`~rhcc_bayes.survival.pooling` (steps and scales bounded by 0). Kept in its own module
because the compile index keys these transforms by this module's source
(:mod:`rhcc_bayes.inference.compile_index`).
"""

from __future__ import annotations

import functools

import numpy as np

_SQRT2 = float(np.sqrt(2.0))
_LOG_SQRT_2PI = float(0.5 * np.log(2.0 * np.pi))


def normal_softplus(pt, t):
    """``F(t) = t Phi(t) + phi(t)`` (``E max(t + Z, 0)``, Z standard normal): ``F(t) ~ t`` for
    large ``t``, ``F'(t) = Phi(t)``, and ``F(t) ~ phi(t) / t**2`` as ``t -> -inf``. Clipped at
    0 where rounding would make it negative (``t < -38``, where it underflows anyway)."""
    cdf = 0.5 * pt.erfc(-t / _SQRT2)
    return pt.maximum(t * cdf + pt.exp(-0.5 * t * t - _LOG_SQRT_2PI), 0.0)


def log_normal_cdf(pt, t):
    """``log Phi(t)`` without ``erfcx``, whose numba implementation PyTensor cannot cache (with
    PyMC's ``normal_lcdf`` the model's compiled functions are rebuilt in every new process, ~75 s
    for the default model). ``log(erfc(-t / sqrt 2) / 2)`` is exact to rounding until erfc
    underflows near ``t = -37`` (``log1p`` of the upper tail for ``t > 0``); below ``t = -30``
    the asymptotic series of the Mills ratio to ``t**-8`` (next term < 2e-12 relative). Each
    branch sees only its own side of the cuts, so none makes a NaN gradient through a switch."""
    upper = pt.log1p(-0.5 * pt.erfc(pt.maximum(t, 0.0) / _SQRT2))
    high = pt.clip(t, -30.0, 0.0)
    low = pt.minimum(t, -30.0)
    inv2 = 1.0 / (low * low)
    series = 1.0 - inv2 * (1.0 - inv2 * (3.0 - inv2 * (15.0 - 105.0 * inv2)))
    tail = -0.5 * low * low - pt.log(-low) - _LOG_SQRT_2PI + pt.log(series)
    return pt.switch(pt.lt(t, -30.0), tail, pt.switch(pt.gt(t, 0.0), upper, pt.log(0.5 * pt.erfc(-high / _SQRT2))))


def _inverse_normal_softplus(pt, g, iterations: int = 12):
    """``t`` with ``F(t) = g`` (``g > 0``): Newton's method on ``log F``, which is concave
    (``F`` is the integral of the log-concave ``Phi``), so it converges from any start; from
    these starts it is at rounding level after 6 iterations for ``g`` in [1e-300, 1e4]."""
    log_g = pt.log(g)
    t = pt.switch(pt.ge(g, 1.0), g, -pt.sqrt(-2.0 * pt.log(pt.minimum(g, 1.0))))
    for _ in range(iterations):
        low = pt.minimum(t, -1.0)  # log F and Phi / F through the Mills ratio R = Phi / phi there
        mills = np.sqrt(np.pi / 2.0) * pt.erfcx(-low / _SQRT2)
        rest = 1.0 + low * mills  # F / phi, ~ 1 / t**2
        high = pt.maximum(t, -1.0)
        f_high = normal_softplus(pt, high)
        log_f = pt.switch(pt.lt(t, -1.0), -0.5 * low * low - _LOG_SQRT_2PI + pt.log(rest), pt.log(f_high))
        slope = pt.switch(pt.lt(t, -1.0), mills / rest, 0.5 * pt.erfc(-high / _SQRT2) / f_high)
        t = t - (log_f - log_g) / slope
    return t


def normal_softplus_bound(pt, y, bound, scale, side):
    """``bound + side * scale * F(side * (y - bound) / scale)`` (:func:`normal_softplus`): the
    backward map of :class:`NormalSoftplusBound` (``side`` +1: lower bound, -1: upper bound),
    also used by the tests."""
    return bound + side * scale * normal_softplus(pt, side * (y - bound) / scale)


@functools.cache
def _bound_class():
    from pymc.logprob.transforms import Transform

    class NormalSoftplusBound(Transform):
        """Bijection from the real line onto ``x > bound`` (``side=+1``) or ``x < bound`` (-1).

        ``x = bound + side * c * F(t)``, ``t = side * (y - bound) / c``, with ``F`` the normal
        softplus (:func:`normal_softplus`): ``x ~ y`` once ``x`` is a few ``c`` from the bound,
        log-like within ``c`` of it, and the log-Jacobian ``log Phi(t) ~ -t**2 / 2`` beyond
        it. With ``c`` about the posterior SD of ``x - bound`` the free coordinate is close to
        Gaussian whether or not the posterior reaches the bound. ``bound_index`` is the
        position of the bound among the random variable's inputs (``None``: the bound is 0).
        The prior is the variable's own; only the coordinates NUTS moves in change.

        Why not the plain softplus (``F(t) = log(1 + e^t)``, until model .8): the free
        coordinate ``y`` is a level and the bound another parameter (the 3to5 level), so in
        warm-up the bound can move past ``y``. With the softplus, ``x`` then sits on the bound
        (``|x - bound| ~ c e^{-|t|}``, the likelihood's gradient on ``y`` vanishes) and only
        the log-Jacobian's constant slope ``1/c`` pulls ``y`` back. On 2587 simulated arms
        (benchmarks/scaling.py, seed 1) the 3to5 level ran 2.5 below the le3 level's free
        coordinate in the first 50 warm-up draws, ``t`` = -90 to -150 (c = 0.017), and with the
        mass matrix adapted to the stuck chain ``y`` crept back by 0.25 per 1000 draws: one
        chain of four held size_steps[0] = 0 for all its draws at a log density 174 lower than
        the other chains (R-hat 1.59). Here the slope beyond the bound is ``|t| / c``: ``y`` is
        pulled along with the bound instead of being left behind.
        """

        name = "normalsoftplus"  # no underscore: PyMC strips "_<name>__" at the last two underscores

        def __init__(self, scale, side: int = 1, bound_index: int | None = None):
            self.scale = np.asarray(scale, dtype=float)
            self.side = side
            self.bound_index = bound_index

        @property
        def start_jitter(self):
            """Half-width of the start's uniform jitter on the free coordinate, in its own units
            (:func:`rhcc_bayes.inference.compile_index.initial_point_rule`), or ``None``: PyMC's 1.

            With a bound that is another parameter, ``c``: the start of the bound moves with that
            parameter's jitter, and PyMC's uniform(-1, 1) on ``y`` (a level, one prior SD from its
            bound at the support point) can put ``y`` many ``c`` past the bound, where ``x`` sits
            on it and ``y``'s curvature is ``1/c**2``. On 2573 simulated arms (seed 2, c =
            0.017-0.031), run as one chain, the first chain's step size collapsed to 3e-7 within
            50 warm-up draws and never recovered; with the levels' jitter switched off, or scaled
            by ``c``, it did not (a first step that jumps across the bound does the same: the
            sampler's ``initial_step``, :class:`~rhcc_bayes.inference.sampling.SamplerSettings`).
            """
            return None if self.bound_index is None else self.scale

        def _bound(self, inputs):
            return 0.0 if self.bound_index is None else inputs[self.bound_index]

        def _t(self, value, inputs):
            return self.side * (value - self._bound(inputs)) / self.scale

        def forward(self, value, *inputs):
            import pytensor.tensor as pt

            gap = self._t(value, inputs)  # > 0 inside the support
            return self._bound(inputs) + self.side * self.scale * _inverse_normal_softplus(pt, gap)

        def backward(self, value, *inputs):
            import pytensor.tensor as pt

            return normal_softplus_bound(pt, value, self._bound(inputs), self.scale, self.side)

        def log_jac_det(self, value, *inputs):
            import pytensor.tensor as pt

            return log_normal_cdf(pt, self._t(value, inputs))

    return NormalSoftplusBound


def NormalSoftplusBound(scale, side: int = 1, bound_index: int | None = None):  # noqa: N802  (a class factory)
    """A :class:`NormalSoftplusBound` transform (built lazily: PyMC is imported on first use)."""
    return _bound_class()(scale, side, bound_index)


