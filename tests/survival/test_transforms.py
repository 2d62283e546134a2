"""The normal-softplus bound (survival/transforms.py): a density-preserving bijection, its
log-CDF (cacheable by numba), and the pull back on a coordinate left beyond its bound."""

import numpy as np
import pytest
from scipy import integrate

from rhcc_bayes.survival import transforms


@pytest.mark.parametrize("side, bound, index", [(1, 0.0, None), (-1, 0.2, 5), (1, -0.4, 4)])
def test_bound_transform_is_a_density_preserving_bijection(side, bound, index):
    """Round trip, and exp(logp) on the free coordinate (with the log-Jacobian) integrates to 1."""
    import pymc as pm

    scale = 0.05
    with pm.Model() as m:
        t = transforms.NormalSoftplusBound(scale, side, index)
        if index is None:
            pm.HalfNormal("x", 0.3, default_transform=t)
        else:
            pm.TruncatedNormal("x", bound, 0.3, **({"upper": bound} if side < 0 else {"lower": bound}),
                               default_transform=t)
    logp = m.compile_logp(jacobian=True)
    name = m.rvs_to_values[m["x"]].name
    assert name == "x_normalsoftplus__"
    total = integrate.quad(lambda y: np.exp(logp({name: np.array(y)})), -5, 5, points=[bound], limit=200)[0]
    assert total == pytest.approx(1.0, abs=1e-6)
    import pytensor.tensor as pt

    x = bound + side * np.array([1e-8, 1e-3, 0.02, 0.3, 2.0])
    y = t.forward(pt.as_tensor(x), *([None] * 4 + [pt.as_tensor(bound)] * 2)).eval()
    back = t.backward(pt.as_tensor(y), *([None] * 4 + [pt.as_tensor(bound)] * 2)).eval()
    np.testing.assert_allclose(back, x, rtol=1e-9)
    np.testing.assert_allclose(y[-1], x[-1], atol=1e-6)  # far from the bound the free coordinate is x


def test_log_normal_cdf_is_scipys_on_both_sides_of_its_cuts_and_numba_caches_it():
    """The transform's log-Jacobian: log Phi to rounding across the erfc / series cut at -30 and
    the upper-tail cut at 0, with its derivative phi / Phi; unlike PyMC's erfcx-based normal_lcdf,
    PyTensor can cache its numba function (else the default model recompiles in every process)."""
    import pytensor
    import pytensor.tensor as pt
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS
    from scipy import special

    x = pt.dvector("x")
    out = transforms.log_normal_cdf(pt, x)
    fn = pytensor.function([x], [out, pytensor.grad(out.sum(), x)], mode="NUMBA")
    t = np.array([-300.0, -45.0, -30.001, -30.0, -29.999, -12.0, -3.0, -1e-9, 0.0, 1e-9, 2.0, 8.0, 40.0])
    value, grad = fn(t)
    expected = special.log_ndtr(t)
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(grad, np.exp(-0.5 * t * t - 0.5 * np.log(2 * np.pi) - expected), rtol=1e-10)
    assert CACHED_SRC_FUNCTIONS.get(fn.vm.jit_fn.py_func) is not None


@pytest.mark.parametrize("side", [1, -1])
def test_a_free_coordinate_left_beyond_its_bound_is_pulled_back_harder_the_deeper_it_is(side):
    """The failure this transform fixes (transforms.NormalSoftplusBound): on 2587 simulated arms the
    bound (the 3to5 level) moved 90-150 scales past the le3 level's free coordinate in warm-up,
    where the plain softplus pulled it back with a constant slope 1/c and the level stayed on
    its bound. Here the log density's slope towards the bound grows as depth / c (log Phi(t)),
    finite and without NaN at those depths, and the level itself still lies inside its support."""
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt

    scale, bound = 0.0167, -5.83  # the 2587-arm le3 step's scale and the stuck chain's 3to5 level
    with pm.Model() as m:
        pm.TruncatedNormal("x", bound, 0.3, **({"upper": bound} if side < 0 else {"lower": bound}),
                           default_transform=transforms.NormalSoftplusBound(scale, side, 5 if side < 0 else 4))
    name = m.rvs_to_values[m["x"]].name
    logp, dlogp = m.compile_logp(jacobian=True), m.compile_dlogp(jacobian=True)
    depths = np.array([2.0, 20.0, 90.0, 150.0])  # -t: how far y lies beyond the bound, in scales
    slopes, values = [], []
    for depth in depths:
        y = np.array(bound - side * depth * scale)
        values.append(float(logp({name: y})))
        slopes.append(float(dlogp({name: y})[0]) * side)  # > 0: towards the bound
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(slopes))
    assert np.all(np.array(slopes) > 0)
    np.testing.assert_allclose(np.array(slopes[1:]) * scale, depths[1:], rtol=0.01)  # ~ depth / c, not 1 / c
    assert values[-1] - values[0] < -0.45 * depths[-1] ** 2
    y = pt.dscalar("y")  # the level on the bound's side (or on it), never past it
    x = pytensor.function([y], transforms.normal_softplus_bound(pt, y, bound, scale, side))
    assert all(side * (x(bound - side * d * scale) - bound) >= 0 for d in depths)
