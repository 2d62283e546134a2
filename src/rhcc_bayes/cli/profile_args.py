"""Patient-profile options shared by ``decide``, ``report`` and ``predict``: ``--profile FILE``
plus one ``--<field>`` option per profile field, overriding the file's values."""

from __future__ import annotations

from typing import Any

from rhcc_bayes.core.errors import Problem, ValidationError
from rhcc_bayes.decision.profile import FIELD_SPECS, FIELDS, PatientProfile, load_profile, parse_field


def add_profile_arguments(parser) -> None:
    """Add ``--profile FILE`` and one ``--<field>`` option per profile field.

    Options override the file's values; they take text ("2.5", "yes", "unknown").
    """
    group = parser.add_argument_group("patient profile")
    group.add_argument("--profile", metavar="FILE", help="patient profile (TOML)")
    for name in FIELDS:
        spec = FIELD_SPECS[name]
        meta = {"bool": "yes|no|unknown", "choice": "|".join(spec.choices) + "|unknown"}.get(
            spec.kind, spec.unit.upper().replace("/", "_") or name.upper())
        group.add_argument("--" + name.replace("_", "-"), dest=f"profile_{name}",
                           metavar=meta, default=None)


def from_cli_args(args) -> PatientProfile:
    """Build a profile from options added by :func:`add_profile_arguments`.

    The ``--profile`` file (if any) is read first; explicit options override it.
    Problems in options are reported against ``command line`` and the option name.
    """
    base: dict[str, Any] = {}
    problems: list[Problem] = []
    path = getattr(args, "profile", None)
    if path:
        try:
            base = load_profile(path).to_dict()
        except ValidationError as err:
            problems.extend(err.problems)
    for name in FIELDS:
        raw = getattr(args, f"profile_{name}", None)
        if raw is None:
            continue
        parsed, msg = parse_field(name, raw, text=True)
        if msg:
            problems.append(Problem("command line", msg, column="--" + name.replace("_", "-"),
                                    value=raw))
        else:
            base[name] = parsed
    if problems:
        raise ValidationError(problems)
    base.setdefault("id", "cli")
    return PatientProfile(**base)
