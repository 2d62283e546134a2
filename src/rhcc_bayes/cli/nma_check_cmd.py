"""``rhcc-bayes nma-check``: do direct and indirect evidence agree in a network meta-analysis?

Fits (or loads) the consistency model of an NMA spec, then its unrelated-mean-effects (UME)
refit and one node-splitting refit per comparison with direct and indirect evidence (NICE DSU
TSD4; :mod:`rhcc_bayes.nma.inconsistency`). Every refit uses the same evidence, sampler
settings, seed and cache folder, so a second run reads them all from the cache.
"""

from __future__ import annotations

import json
import sys

from rhcc_bayes.cli.common import (
    add_fit_arguments,
    add_format_argument,
    add_out_argument,
    emit,
    fit_from_args,
    frame_text,
    announce_gate,
)

CHECKS = ("both", "ume", "split")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "nma-check", help="NMA inconsistency: UME model vs consistency (DIC) and node-splitting",
        description="Checks of a network meta-analysis's consistency assumption: the unrelated-mean-effects "
                    "model's residual deviance, pD and DIC against the consistency model's, and node-splitting "
                    "(direct vs indirect estimate, their difference and the Bayesian p-value 2 min(P(diff>0), "
                    "P(diff<0))) of every comparison with both direct and indirect evidence. "
                    "--format csv gives the node-split table (the UME effects table with --check ume); "
                    "json gives every table.")
    add_fit_arguments(p)
    p.set_defaults(spec=None)
    p.add_argument("--check", choices=CHECKS, default="both",
                   help="which check to run: UME comparison, node-splitting or both [default: both]")
    p.add_argument("--comparison", nargs=2, action="append", metavar=("TRT_A", "TRT_B"),
                   help="node-split only this comparison (repeatable) [default: every comparison with direct "
                        "and indirect evidence]")
    add_format_argument(p)
    add_out_argument(p, "the check")
    p.set_defaults(func=run)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args) -> int:
    from rhcc_bayes.core.errors import UserError
    from rhcc_bayes.core.paths import default_cache_dir
    from rhcc_bayes.nma.inconsistency import node_split, ume_comparison, ume_spec
    from rhcc_bayes.nma.network import comparison_label, splittable_comparisons
    from rhcc_bayes.specs import is_nma, load_spec
    from rhcc_bayes.synthesis import Synthesis

    if args.spec is None:
        raise UserError("nma-check needs --spec: a network meta-analysis spec (e.g. nma_diabetes_re)")
    if not is_nma(load_spec(args.spec)):
        raise UserError(f"--spec {args.spec}: nma-check needs a network meta-analysis spec "
                        "([model] family = \"nma\"); for the survival synthesis use `rhcc-bayes ppc`")
    _, post = fit_from_args(args)
    banner = announce_gate(post.idata)
    data = post.synthesis.nma_data
    cache_dir = None if args.no_cache else (args.cache_dir or default_cache_dir())

    def fit(spec):
        _log(f"fitting {spec.name!r} ...")
        return Synthesis(spec, post.evidence, settings=post.synthesis.settings).fit(
            cache_dir=cache_dir, seed=post.seed, allow_unconverged=args.allow_unconverged, progressbar=False)

    ume = split = None
    if args.check in ("both", "ume"):
        ume = ume_comparison(data, post.spec, post, fit(ume_spec(post.spec)))
    if args.check in ("both", "split"):
        pairs = args.comparison or [(data.treatments[i], data.treatments[j]) for i, j in splittable_comparisons(data)]
        _log(f"node-splitting {len(pairs)} comparison(s): "
             + (", ".join(comparison_label(data, (data.treatments.index(a), data.treatments.index(b)))
                          if a in data.treatments and b in data.treatments else f"{b} vs {a}" for a, b in pairs)
                or "none (the network has no loops)"))
        split = node_split(data, post.spec, fit, [tuple(c) for c in pairs], network_idata=post.idata)

    if args.format == "json":
        out = {"spec": post.spec.name, "seed": post.seed, "consistency_gate_passed": post.converged}
        if ume is not None:
            out["ume"] = {"fit": _records(ume.fit, "model"), "dic_difference": ume.dic_difference,
                          "effects": _records(ume.effects, "comparison"),
                          "pointwise": _records(ume.pointwise, "data_point")}
        if split is not None:
            out["node_split"] = _records(split.table, "comparison")
        emit(args, json.dumps(out, indent=1) + "\n")
    elif args.format == "csv":
        table = split.table if split is not None else ume.effects
        emit(args, frame_text(table.reset_index(), "csv"))
    else:
        parts = [post.nma_result.to_text()]
        if banner:
            parts.insert(0, banner)
        if ume is not None:
            parts.append(ume.to_text())
        if split is not None:
            parts.append(split.to_text())
        emit(args, "\n\n".join(parts) + "\n")
    return 0


def _records(frame, index_name: str) -> list[dict]:
    return json.loads(frame.rename_axis(index_name).reset_index().to_json(orient="records"))
