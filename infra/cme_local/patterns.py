"""EventBridge-style event patterns, as Lambda's event filtering applies them to stream records:
exact values, `prefix`, `anything-but`, `exists` and `numeric` comparisons, nested objects."""

from __future__ import annotations

from typing import Any

_MISSING = object()


def _value_matches(rule: Any, value: Any) -> bool:
    if isinstance(rule, dict):
        if "prefix" in rule:
            return isinstance(value, str) and value.startswith(rule["prefix"])
        if "suffix" in rule:
            return isinstance(value, str) and value.endswith(rule["suffix"])
        if "exists" in rule:
            return (value is not _MISSING) == bool(rule["exists"])
        if "anything-but" in rule:
            excluded = rule["anything-but"]
            excluded = excluded if isinstance(excluded, list) else [excluded]
            return value is not _MISSING and value not in excluded
        if "numeric" in rule:
            return _numeric(rule["numeric"], value)
        raise ValueError(f"unsupported pattern rule {rule}")
    return value is not _MISSING and value == rule


def _numeric(terms: list[Any], value: Any) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    checks = {"<": number.__lt__, "<=": number.__le__, "=": number.__eq__, ">": number.__gt__, ">=": number.__ge__}
    return all(checks[op](float(bound)) for op, bound in zip(terms[::2], terms[1::2], strict=True))


def matches(pattern: dict[str, Any], event: Any) -> bool:
    if not isinstance(event, dict):
        return False
    for key, rule in pattern.items():
        value = event.get(key, _MISSING)
        if isinstance(rule, dict):
            if not matches(rule, value if isinstance(value, dict) else {}):
                return False
        elif isinstance(rule, list):
            candidates = value if isinstance(value, list) else [value]
            if not any(_value_matches(r, c) for r in rule for c in candidates):
                return False
        else:
            raise ValueError(f"a pattern's leaves are lists, not {rule!r}")
    return True


def any_matches(patterns: list[dict[str, Any]], event: Any) -> bool:
    return not patterns or any(matches(p, event) for p in patterns)
