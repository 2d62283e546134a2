"""``rhcc-bayes compare-models``: LOO comparison between specs fitted to the same evidence.

Rows are keyed by the spec as given on the command line (bundled name or file path), never by
the ``[model] name`` inside the file, so two files sharing a name cannot be confused; two
arguments naming the same file, or two specs describing the same model, are refused.
"""

from __future__ import annotations

from rhcc_bayes.cli.common import (
    add_fit_arguments,
    add_format_argument,
    add_out_argument,
    announce_gate,
    emit,
    fit_from_args,
    flagged_frame,
    flagged_text,
    frame_text,
    load_inputs,
)


def add_parser(sub) -> None:
    p = sub.add_parser("compare-models", help="compare specs by PSIS-LOO (same observations required)",
                       description="Fit (or load) each spec and compare them by PSIS-LOO; the specs must use the "
                                   "same observations.")
    p.add_argument("specs", nargs="+", metavar="SPEC", help="two or more specs (bundled names or TOML paths)")
    add_fit_arguments(p, spec=False)
    add_format_argument(p)
    add_out_argument(p, "the comparison")
    p.set_defaults(func=run)


def distinct_specs(names, specs) -> None:
    """Refuse two spec arguments that compare-models could not tell apart.

    Raises
    ------
    UserError
        When two arguments are the same file, or two specs differ at most in their name
        (identical model, priors and sampler settings: the comparison would be meaningless).
    """
    from rhcc_bayes.core.errors import UserError
    from rhcc_bayes.specs import resolve_spec_path
    from rhcc_bayes.synthesis.inputs import canonical_spec

    seen_path, seen_model = {}, {}
    for name, spec in zip(names, specs):
        path = resolve_spec_path(name).resolve()
        if path in seen_path:
            raise UserError(f"compare-models: {seen_path[path]!r} and {name!r} are the same spec file ({path})")
        seen_path[path] = name
        model = canonical_spec(spec)
        model.pop("name", None)
        key = repr(sorted(model.items(), key=lambda kv: kv[0]))
        if key in seen_model:
            raise UserError(f"compare-models: specs {seen_model[key]!r} and {name!r} describe the same model "
                            "(they differ at most in their name); compare different specs")
        seen_model[key] = name


def run(args) -> int:
    from rhcc_bayes.cli.common import _check_out_file
    from rhcc_bayes.core.errors import UserError
    from rhcc_bayes.survival.criticism import compare_models

    if len(args.specs) < 2:
        raise UserError("compare-models needs at least two specs")
    if args.out:
        _check_out_file(args.out)
    inputs = [load_inputs(args, name) for name in args.specs]  # validate every spec before any fit
    distinct_specs(args.specs, [spec for _, spec in inputs])
    fits, banners = {}, {}
    for name, pair in zip(args.specs, inputs):
        _, result = fit_from_args(args, spec_name=name, inputs=pair)
        fits[name] = result.idata
        banner = announce_gate(result.idata)
        banners[name] = f"spec {name}: {banner}" if banner else ""
    table = compare_models(fits)
    gate = table.index.map(banners)
    if args.format in ("csv", "json"):
        frame = table.rename_axis("spec").reset_index()
        emit(args, frame_text(flagged_frame(frame, list(gate)), args.format))
        return 0
    text = table.to_string(float_format=lambda v: f"{v:.2f}")
    text += ("\n\nelpd_loo: expected log predictive density (higher is better); "
             "elpd_diff/dse: difference to the best and its SE.\n")
    if bool(table["warning"].any()):
        text += ("warning = True: some Pareto k > 0.7 (each reported summary is influential with this little "
                 "evidence); treat those LOO values as indicative only.\n")
    emit(args, flagged_text("\n".join(b for b in gate if b), text))
    return 0
