"""Pointwise log-likelihood of every posterior draw in one compiled call.

``pm.compute_log_likelihood`` compiles the elementwise log density of the observed
variables and calls it once per draw from Python (12000 calls on the default spec), plus
a fresh compile in every call. Here the same graph is vectorised over a leading draw
dimension (``pytensor.graph.replace.vectorize_graph``), compiled once per model and
process (a second fit of the same model reuses it) and evaluated on all draws at once,
in chunks that bound the memory of intermediate arrays. The values are those of
``pm.compute_log_likelihood`` to rounding (the same ops, batched), in a dataset with the
same variable names, dims and coords (``tests/inference/test_pointwise.py``).

Model-agnostic: any PyMC model whose posterior holds its free variables on the
constrained scale.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

#: Elements per output array and chunk of draws: bounds intermediates (~32 MB per float64 array).
CHUNK_ELEMENTS = 2**22
#: Compiled functions per model object, so an in-process refit does not compile again.
_MEMO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: PyTensor mode of the post-fit functions (this module's and ``predictive``'s): few rewrites and
#: NumPy implementations, no C. They are called once per fit on arrays of all draws, so per-op
#: overhead does not matter, while the default mode's rewrites and C modules did. Default spec,
#: 4000 draws (2026-12-01, model .14): compile + first call, pointwise / predictive, 7.4 / 4.7 s
#: against 13.9 / 10.7 s with a warm C cache and 130 / 31 s (compile alone) with an empty one;
#: a further call 0.97 / 0.73 s against 0.10 / 0.21 s. Same values (sums equal to rounding) and
#: the same predictive draws (random variables draw with NumPy in either mode).
#: NUMBA instead (cacheable on disk) was rejected: 472 s to compile on an empty cache and
#: 217 s + 51 s of rewrites with a warm one (load ~5), for 0.20 s per call instead of 1.6 s.
POST_FIT_MODE = "FAST_COMPILE"


def memoised(model, key: tuple, build: Callable[[], Any]) -> Any:
    """``build()`` once per ``(model, key)`` in this process.

    ``key`` must name everything the built function depends on besides the model's graph;
    the model's variable names are added, so a model extended after a fit compiles anew.
    Shared variables (``pm.Data``, observed data) are read at call time, not captured.
    """
    full_key = (*key, tuple(model.named_vars))
    per_model = _MEMO.setdefault(model, {})
    if full_key not in per_model:
        per_model[full_key] = build()
    return per_model[full_key]


def data_fingerprint(model) -> str:
    """sha256 of the values of the model's ``pm.Data`` and mutable dimension lengths.

    The log density is compiled from a copy of the model (transforms removed) whose shared
    variables are copies too, so new data (``pm.set_data``) must mean a new compile.
    """
    import hashlib

    import numpy as np
    from pytensor.compile.sharedvalue import SharedVariable

    sha = hashlib.sha256()
    shared = [*model.data_vars, *(v for v in model.dim_lengths.values() if isinstance(v, SharedVariable))]
    for var in shared:
        value = np.asarray(var.get_value(borrow=True))
        sha.update(f"{var.name}:{value.dtype.str}:{value.shape}".encode())
        sha.update(np.ascontiguousarray(value).tobytes())
    return sha.hexdigest()


def batched(var, name: str | None = None):
    """A placeholder like ``var`` with a leading dimension of unknown length (the draws)."""
    import pytensor.tensor as pt

    return pt.tensor(name=name or var.name, dtype=var.type.dtype, shape=(None, *var.type.shape))


def stacked(posterior, names: Sequence[str], dtypes: Sequence[str], sample_dims: Sequence[str]) -> list:
    """Posterior arrays of ``names`` with the sample dims flattened into one leading axis (C order)."""
    import numpy as np

    n = int(np.prod([posterior.sizes[d] for d in sample_dims]))
    out = []
    for name, dtype in zip(names, dtypes, strict=True):
        da = posterior[name].transpose(*sample_dims, ...)
        out.append(np.ascontiguousarray(da.values.reshape(n, *da.shape[len(sample_dims):]), dtype=dtype))
    return out


def call_in_chunks(fn, arrays: list, n_draws: int, core_ndims: Sequence[int]) -> list:
    """``fn(m, *slices)`` on consecutive slices of ``m`` draws, in order; outputs joined along axis 0.

    The first call takes one draw and sizes the rest so that no output of a chunk exceeds
    :data:`CHUNK_ELEMENTS`. Calls in order keep a random function's draws those of one call
    over all draws (each RNG continues its stream). An output that depends on no batched
    input comes back without the draw axis (``core_ndims`` dimensions) and is repeated.
    """
    import numpy as np

    def call(start: int, stop: int) -> list:
        m = stop - start
        outs = fn(m, *(a[start:stop] for a in arrays))
        return [np.broadcast_to(o, (m, *np.shape(o))) if np.ndim(o) == nd else o
                for o, nd in zip(outs, core_ndims, strict=True)]

    first = call(0, min(1, n_draws))
    per_draw = max((int(np.prod(o.shape[1:])) for o in first), default=1)
    step = max(1, CHUNK_ELEMENTS // max(1, per_draw))
    parts = [first] + [call(i, min(i + step, n_draws)) for i in range(1, n_draws, step)]
    return [np.concatenate(outs) for outs in zip(*parts, strict=True)]


def _simple_batched_join(node, new_inputs) -> bool:
    """A join along a constant axis whose inputs are batched by the same dims (not broadcastable) or not at all."""
    from pytensor.graph.basic import Constant
    from pytensor.tensor.basic import Join

    if not isinstance(node.op, Join) or not isinstance(node.inputs[0], Constant) or new_inputs[0] is not node.inputs[0]:
        return False
    extra = [n.type.ndim - o.type.ndim for n, o in zip(new_inputs[1:], node.inputs[1:], strict=True)]
    n_new = max(extra, default=0)
    return n_new > 0 and all(e in (0, n_new) and not any(n.type.broadcastable[:e])
                             for n, e in zip(new_inputs[1:], extra, strict=True))


def vectorize(outputs: list, replace: dict) -> list:
    """``vectorize_graph``, except for joins and random variables with an explicit size.

    A join of batched and unbatched inputs becomes PyTensor's ``Blockwise`` of a join (a
    Python loop over the draws at run time, ~70 ms per join on the default model); here
    the unbatched inputs are broadcast to the batch shape and joined along the shifted axis.

    For a random variable with a size, PyTensor 2.38 infers the new batch dimensions from
    its first parameter only, which fails when that one is data (e.g. a binomial's ``n``) and another
    is batched. Here every batched parameter gets singleton axes up to the size's length (as
    the per-draw call broadcasts it), and the size gains the leading batch dimensions.
    """
    import pytensor.tensor as pt
    from pytensor.graph.basic import Apply
    from pytensor.graph.replace import _vectorize_node
    from pytensor.graph.traversal import toposort, truncated_graph_inputs
    from pytensor.tensor.random.op import RandomVariable
    from pytensor.tensor.type_other import NoneTypeT

    roots = truncated_graph_inputs(outputs, ancestors_to_include=replace.keys())
    vect = {v: replace.get(v, v) for v in roots}
    for node in toposort(outputs, blockers=roots):
        new_inputs = [vect.get(i, i) for i in node.inputs]
        op = node.op
        if isinstance(op, RandomVariable) and not isinstance(op.size_param(node).type, NoneTypeT):
            rng, size = op.rng_param(node), op.size_param(node)
            old_params, params = op.dist_params(node), list(op.dist_params(Apply(op, new_inputs, [])))
            extra = [p.type.ndim - o.type.ndim for o, p in zip(old_params, params, strict=True)]
            n_new = max(extra, default=0)
            if n_new:
                n_size = int(pt.get_vector_length(size))
                batch = next(p for p, e in zip(params, extra, strict=True) if e).shape[:n_new]
                for k, (old, e) in enumerate(zip(old_params, extra, strict=True)):
                    pad = n_size - (old.type.ndim - op.ndims_params[k])
                    if e and pad > 0:  # the per-draw call aligns this parameter to the size from the right
                        params[k] = pt.expand_dims(params[k], tuple(range(e, e + pad)))
                size = pt.concatenate([pt.as_tensor(batch, dtype=size.dtype), size])
            outs = op.make_node(vect.get(rng, rng), size, *params).outputs
        elif _simple_batched_join(node, new_inputs):
            extra = [n.type.ndim - o.type.ndim for n, o in zip(new_inputs[1:], node.inputs[1:], strict=True)]
            n_new = max(extra)
            batch = next(n for n, e in zip(new_inputs[1:], extra, strict=True) if e == n_new).shape[:n_new]
            parts = [n if e == n_new else pt.broadcast_to(n, (*batch, *o.shape))
                     for n, o, e in zip(new_inputs[1:], node.inputs[1:], extra, strict=True)]
            axis = int(node.inputs[0].data)
            outs = [pt.join(axis + n_new if axis >= 0 else axis, *parts)]
        else:
            result = _vectorize_node(op, node, *new_inputs)
            outs = result.outputs if isinstance(result, Apply) else result
        for old, new in zip(node.outputs, outs, strict=True):
            vect.setdefault(old, new)
    return [vect[o] for o in outputs]


def _compile(model, var_names: tuple[str, ...] | None):
    """The vectorised elementwise log density of the observed variables, and what calls it."""
    from pymc.model.transform.conditioning import remove_value_transforms
    from pymc.pytensorf import compile as pm_compile
    from pytensor.graph.rewriting.utils import rewrite_graph

    # As PyMC: the posterior holds constrained values, so the transforms are removed.
    umodel = remove_value_transforms(model)
    targets = list(umodel.observed_RVs) if var_names is None else [umodel.named_vars[n] for n in var_names]
    if not set(targets).issubset(umodel.observed_RVs):
        raise ValueError(f"var_names must refer to observed_RVs in the model. Got: {var_names}")
    values = [umodel.rvs_to_values[rv] for rv in umodel.free_RVs]
    # Canonicalised first: vectorising the raw graph (its many allocs infer static shapes) and
    # rewriting the result took 2-4x longer on the default model; the values are the same.
    # (In place: the graph is this function's own, built from the model's copy.)
    logps = rewrite_graph(umodel.logp(vars=targets, sum=False), include=("canonicalize",))
    inputs = [batched(v) for v in values]
    outputs = vectorize(logps, dict(zip(values, inputs, strict=True)))
    with umodel:  # pm_compile reads check_bounds from the model context, as PyMC's compile_fn does
        fn = pm_compile(inputs, outputs, on_unused_input="ignore", allow_input_downcast=True, accept_inplace=True,
                        mode=POST_FIT_MODE)
    fn.trust_input = True  # inputs are made C-contiguous with the right dtype by `stacked`
    return (fn, tuple(rv.name for rv in targets), tuple(rv.name for rv in umodel.free_RVs),
            tuple(v.type.dtype for v in values), tuple(o.type.ndim for o in logps))


def prepare(model, var_names: Sequence[str] | None = None) -> tuple:
    """Compile (memoise) the function :func:`log_likelihood` uses for ``model``; it needs no posterior."""
    key = ("log_likelihood", None if var_names is None else tuple(var_names), data_fingerprint(model))
    return memoised(model, key, lambda: _compile(model, key[1]))


def log_likelihood(idata, model, *, var_names: Sequence[str] | None = None,
                   sample_dims: Sequence[str] = ("chain", "draw")):
    """Pointwise log-likelihood of every draw in ``idata.posterior``, as PyMC computes it.

    Parameters
    ----------
    idata : arviz.InferenceData
        With a ``posterior`` group holding every free variable of ``model``.
    model : pm.Model
        The model that was sampled.
    var_names : sequence of str, optional
        Observed variables to evaluate; all of them by default.
    sample_dims : sequence of str
        The posterior's sample dimensions, flattened for the computation.

    Returns
    -------
    xarray.Dataset
        What ``pm.compute_log_likelihood(idata, model=model, extend_inferencedata=False)``
        returns: one variable per observed variable, dims ``(*sample_dims, *its dims)``.
    """
    import numpy as np
    import pymc
    from pymc.backends.arviz import coords_and_dims_for_inferencedata, dict_to_dataset

    fn, out_names, free_names, dtypes, core_ndims = prepare(model, var_names)
    posterior = idata["posterior"]
    arrays = stacked(posterior, free_names, dtypes, sample_dims)
    n = int(np.prod([posterior.sizes[d] for d in sample_dims]))
    values = call_in_chunks(lambda m, *a: fn(*a), arrays, n, core_ndims)
    shape = [posterior.sizes[d] for d in sample_dims]
    out = {name: v.reshape(*shape, *v.shape[1:]) for name, v in zip(out_names, values, strict=True)}
    coords, dims = coords_and_dims_for_inferencedata(model)
    return dict_to_dataset(out, library=pymc, dims=dims, coords=coords, default_dims=list(sample_dims),
                           skip_event_dims=True)
