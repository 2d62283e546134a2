"""nutpie's numba compile with its C wrappers cached on disk, so a new process does not recompile.

``nutpie.compile_pymc_model`` builds the log density and its gradient as PyTensor
functions (their numba code is cached by PyTensor, keyed by the rewritten graph) and then
wraps each in a ``numba.cfunc`` defined as a closure. Those wrappers can never be cached
(numba refuses closures over dispatchers and writes new cache files every process), and
typing plus LLVM-compiling them is most of a warm refit's compile time.

Here the wrappers are generated as source text whose only variable parts are literals
(the dimensions) and whose callee is PyTensor's cached dispatcher, registered with
PyTensor's numba cache locator under a key derived from PyTensor's own graph key. A new
process with the same model graph therefore loads the wrappers from disk. The numbers
they compute are those of nutpie's own wrappers (same inner functions, same checks), so
draws are unchanged.

Shared variables (observed data, ``pm.Data``) are read at run time from a flat table
of addresses, sizes and shapes (``user_data``), so only their dtypes and ranks enter the
generated source: new observations of the same ranks reuse the cached wrappers.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

#: Bump when the generated source below changes meaning (it is part of the cache key).
WRAPPER_VERSION = "3"

_LOGP_SRC = """
def rhcc_logp_wrapper(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    try:
        x = carray(x_, ({n_dim},))
        out = carray(out_, ({n_dim},))
        logp = carray(logp_, ())
{unpack}
        logp_val, grad = inner(x{args})
        logp[()] = logp_val
        out[...] = grad
        if not np.all(np.isfinite(out)):
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:
        return 1
    return 0
"""

_EXPAND_SRC = """
def rhcc_expand_wrapper(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim}:
        return -1
    if expanded != {n_expanded}:
        return -1
    try:
        x = carray(x_, ({n_dim},))
        out = carray(out_, ({n_expanded},))
{unpack}
        (values,) = inner(x{args})
        out[...] = values
    except Exception:
        return -2
    return 0
"""


def _readonly_intrinsic():
    """A numba intrinsic typing an array as read-only (a no-op at run time).

    nutpie types its shared arrays read-only; typing ours the same way gives the inner
    function the very signature nutpie compiles, hence the same machine code and draws.
    """
    from numba.core.imputils import impl_ret_borrowed
    from numba.extending import intrinsic

    @intrinsic
    def as_readonly(typingctx, arr):
        def codegen(context, builder, signature, args):
            return impl_ret_borrowed(context, builder, signature.return_type, args[0])

        return arr.copy(readonly=True)(arr), codegen

    return as_readonly


_AS_READONLY = None


def _unpack_source(shared: list, layout: dict[str, int]) -> tuple[str, str]:
    """Source lines that rebuild each shared array from the ``user_data`` table, and the call's arguments."""
    lines, args = ["        ud = carray(user_data_, (%d,), np.uint64)" % layout["__len__"]], ""
    for i, var in enumerate(shared):
        k, ndim = layout[var.name], var.type.ndim
        shape = "".join(f"int(ud[{k + 2 + d}])," for d in range(ndim))
        lines.append(f"        s{i} = readonly(carray(as_pointer(ud[{k}]), (int(ud[{k + 1}]),), "
                     f"np.{var.type.dtype}).reshape(({shape})))")
        args += f", s{i}"
    return "\n".join(lines), args


def make_user_data(shared_data: dict) -> tuple[Any, dict[str, int]]:
    """Flat uint64 table ``[address, size, *shape]`` per shared array, and each array's offset in it."""
    import numpy as np

    layout, entries = {}, []
    for name, arr in shared_data.items():
        layout[name] = len(entries)
        entries += [arr.ctypes.data, arr.size, *arr.shape]
    layout["__len__"] = max(len(entries), 1)
    return np.array(entries or [0], dtype=np.uint64), layout


def _preload(inner, n_dim: int, shared: list, shared_data: dict) -> None:
    """Load (or compile) PyTensor's inner function on its own, with the wrapper's argument types.

    Done in every process before the wrapper is built: the wrapper's calls then resolve to
    this standalone code whether the wrapper was compiled now or loaded from disk, so a cold
    and a warm compile cache run the same machine code (bit-identical gradients and draws).
    A Python-level call types the arguments exactly as the wrapper does (C-contiguous, the
    shared arrays read-only); its result is discarded.
    """
    import numpy as np

    try:
        inner(np.zeros(n_dim), *(shared_data[v.name] for v in shared))
    except Exception:  # noqa: BLE001 - only the compile matters; a NaN/raise at 0 is irrelevant
        pass


def _cached_cfunc(template: str, name: str, sig, inner, inner_key: str, shared, layout, **literals):
    """``numba.cfunc`` of the generated wrapper, cached under a key of its source and callee."""
    import numba
    import numpy as np
    from nutpie.compile_pymc import address_as_void_pointer
    from pytensor.link.numba.cache import compile_numba_function_src

    global _AS_READONLY
    if _AS_READONLY is None:
        _AS_READONLY = _readonly_intrinsic()
    unpack, args = _unpack_source(shared, layout)
    src = template.format(unpack=unpack, args=args, **literals)
    key = hashlib.sha256(f"{WRAPPER_VERSION}\n{inner_key}\n{src}".encode()).hexdigest()
    fn = compile_numba_function_src(src, name, {"__name__": __name__, "np": np, "carray": numba.carray, "inner": inner,
                                                   "as_pointer": address_as_void_pointer, "readonly": _AS_READONLY}, cache_key=key)
    try:
        return numba.cfunc(sig, cache=True)(fn)
    except Exception as exc:  # an unreadable cache entry must cost a compile, never the fit
        warnings.warn(f"numba cache of {name} unusable ({exc!r}); compiling without it", RuntimeWarning)
        return numba.cfunc(sig)(fn)


def _graph_key(jit_fn) -> str | None:
    """PyTensor's cache key of a compiled function graph, or ``None`` when it is not cacheable."""
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    return CACHED_SRC_FUNCTIONS.get(getattr(jit_fn, "py_func", None))


def _cached_model_class():
    """nutpie's ``CompiledPyMCModel`` whose ``with_data`` rebuilds this module's ``user_data`` table."""
    import dataclasses

    import numpy as np
    from nutpie.compile_pymc import CompiledPyMCModel

    class CachedPyMCModel(CompiledPyMCModel):
        def with_data(self, **updates):
            shared = dict(self.shared_data)
            for name, value in updates.items():
                if name not in shared:
                    raise KeyError(f"Unknown shared variable: {name}")
                new = np.array(value, dtype=shared[name].dtype, order="C", copy=True)
                if new.ndim != shared[name].ndim:
                    raise ValueError(f"Shared variable {name} must have rank {shared[name].ndim}")
                new.flags.writeable = False
                shared[name] = new
            user_data, _ = make_user_data(shared)  # offsets depend on ranks only: same layout
            return dataclasses.replace(self, shared_data=shared, user_data=user_data)

    return CachedPyMCModel


def compile_cached(model) -> tuple[Any, bool]:
    """Compile ``model`` for nutpie with cacheable wrappers.

    Returns
    -------
    (compiled, cached) : (nutpie CompiledPyMCModel, bool)
        ``cached`` is false when the model needed nutpie's own (uncacheable) compile.
    """
    import numba
    import numpy as np
    import nutpie
    from nutpie import compile_pymc as cp
    from pymc.initial_point import make_initial_point_fn

    # As nutpie.compile_pymc_model(model) with its defaults (support-point start, jittered).
    initial_point_fn = cp._wrap_with_lock(make_initial_point_fn(
        model=model, overrides=None, default_strategy="support_point",
        jitter_rvs=set(model.free_RVs), return_transformed=True))
    n_dim, n_expanded, logp_pt, expand_pt, init_fn, shape_info = cp._make_functions(
        model, mode="NUMBA", compute_grad=True, join_expanded=True,
        pymc_initial_point_fn=initial_point_fn, var_names=None)
    logp_key, expand_key = _graph_key(logp_pt.vm.jit_fn), _graph_key(expand_pt.vm.jit_fn)
    if logp_key is None or expand_key is None:
        return nutpie.compile_pymc_model(model), False
    shared_vars: dict[str, Any] = {}
    for var in [*logp_pt.get_shared(), *expand_pt.get_shared()]:
        if shared_vars.setdefault(var.name, var) is not var:
            raise ValueError(f"shared variables must have unique names: {var.name}")
    shared_data = {name: np.array(var.get_value(), order="C", copy=True) for name, var in shared_vars.items()}
    for arr in shared_data.values():
        arr.flags.writeable = False
    user_data, layout = make_user_data(shared_data)

    logp_sig = numba.types.int64(numba.types.uint64, numba.types.CPointer(numba.types.double),
                                 numba.types.CPointer(numba.types.double),
                                 numba.types.CPointer(numba.types.double), numba.types.voidptr)
    expand_sig = numba.types.int64(numba.types.uint64, numba.types.uint64,
                                   numba.types.CPointer(numba.types.double),
                                   numba.types.CPointer(numba.types.double), numba.types.voidptr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", numba.NumbaWarning)
        _preload(logp_pt.vm.jit_fn, n_dim, logp_pt.get_shared(), shared_data)
        _preload(expand_pt.vm.jit_fn, n_dim, expand_pt.get_shared(), shared_data)
        logp_c = _cached_cfunc(_LOGP_SRC, "rhcc_logp_wrapper", logp_sig, logp_pt.vm.jit_fn, logp_key,
                               logp_pt.get_shared(), layout, n_dim=n_dim)
        expand_c = _cached_cfunc(_EXPAND_SRC, "rhcc_expand_wrapper", expand_sig, expand_pt.vm.jit_fn,
                                 expand_key, expand_pt.get_shared(), layout, n_dim=n_dim, n_expanded=n_expanded)
    dims, coords = cp._prepare_dims_and_coords(model, shape_info)
    compiled = _cached_model_class()(
        _n_dim=n_dim, dims=dims, _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info)},
        compiled_logp_func=logp_c, compiled_expand_func=expand_c, initial_point_func=init_fn,
        shared_data=shared_data, user_data=user_data, n_expanded=n_expanded,
        shape_info=shape_info, logp_func=logp_pt, expand_func=expand_pt)
    return compiled, True
