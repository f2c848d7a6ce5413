"""Typed models read from JSON, and their errors as one line each.

Every model of the config (and of the function's environment) derives from `Model`: frozen, no unknown keys,
no coercion ("5" is not 5, 2.5 is not a whole number, 1 is not true). Pydantic collects every problem; `problems`
turns each into `source: path: problem (got value)`, the line a user fixes without reading a traceback. A field
may carry a `Say("…")` in its `Annotated` metadata: the phrase its problems are told in.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.fields import FieldInfo


class ConfigError(ValueError):
    """A configuration problem, in one line; `problems` holds every line (the first is `str(self)`)."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else problems
        super().__init__(self.problems[0])


class Model(BaseModel):
    """A model read from JSON: frozen, strict, closed. Lists are read into tuples (see `Items`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


M = TypeVar("M", bound=Model)


class Say:
    """`Annotated` metadata: how a field's problems are told (`must be …`)."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


class Rule(ValueError):
    """A rule across fields, broken `at` a path below the model that checks it (a validator may raise one)."""

    def __init__(self, at: tuple[str | int, ...], problem: str, value: Any = ...) -> None:
        super().__init__(problem)
        self.at, self.problem, self.value = at, problem, value


def parse_json(text: str | bytes, source: str) -> Any:
    """The JSON document in `text`, or `ConfigError` in one line (duplicate keys too: JSON keeps the last)."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except _DuplicateKey as exc:
        raise ConfigError(f"{source}: duplicate key {exc.args[0]!r}") from None
    except RecursionError:
        raise ConfigError(f"{source}: JSON nested too deeply to be a config") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts (sys.get_int_max_str_digits)
        raise ConfigError(f"{source}: not a usable JSON document: {' '.join(str(exc).split())[:120]}") from None


def validate(model: type[M], raw: Any, source: str) -> M:
    """`raw` as `model`, or `ConfigError` holding every problem, one line each, in document order."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(problems(model, exc, source)) from None


def problems(model: type[BaseModel], error: ValidationError, source: str) -> list[str]:
    """One line per problem of `error`, raised validating `model`."""
    lines = []
    for item in error.errors(include_url=False):
        loc: tuple[str | int, ...] = item["loc"]
        value = item.get("input", ...)
        rule = item.get("ctx", {}).get("error")
        if item["type"] == "too_short" and isinstance(value, list) and len(value) >= item["ctx"]["min_length"]:
            continue  # pydantic counts only the items that passed; those that did not are reported themselves
        if isinstance(rule, Rule):
            loc, problem, value = (*loc, *rule.at), rule.problem, rule.value
        else:
            problem = _problem(item, *_locate(model, loc))
            if item["type"] in ("missing", "extra_forbidden", "too_short"):
                value = ...
        where = ": ".join(part for part in (source, path(loc)) if part)
        lines.append(f"{where}: {problem}" + ("" if value is ... else f" (got {show(value)})"))
    return lines


def path(loc: tuple[str | int, ...]) -> str:
    """`instances[0].filters[2].name`; a key that is not a plain name is quoted (`pacing["a b"]`)."""
    text = ""
    for step in loc:
        if isinstance(step, int):
            text += f"[{step}]"
        elif step.isidentifier() and step.isascii():
            text += f".{step}" if text else step
        else:
            text += f"[{json.dumps(step)}]"
    return text


def show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _problem(item: Mapping[str, Any], field: FieldInfo | None, parent: Any, annotation: Any) -> str:
    """The phrase for one pydantic error: `field` is the nearest model field on its path (for a list's item,
    the list), `parent` what holds the value, `annotation` the value's own type."""
    kind, ctx = item["type"], item.get("ctx", {})
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        allowed = sorted(_key(name, f) for name, f in parent.model_fields.items()) if _is_model(parent) else []
        return "unknown key; allowed keys: " + ", ".join(allowed)
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "must be a JSON object"
    if kind in ("tuple_type", "list_type"):
        return "must be a JSON array"
    if kind == "too_short":
        return f"must hold at least {ctx.get('min_length', 1)} item(s)"
    say = next((m.problem for m in _metadata(field) if isinstance(m, Say)), None)
    if say:
        return say
    if kind == "literal_error":
        return "must be one of " + ", ".join(map(str, get_args(annotation)))
    own = field is not None and _unwrap(field.annotation) is annotation  # the field itself, not an item of it
    bounds = _bounds(field) if field is not None and own else None
    span = f" from {bounds[0]} to {bounds[1]}" if bounds else ""
    if annotation is int:
        return "must be a whole number" + span
    if annotation is float:
        return "must be a number" + span
    if annotation is bool:
        return "must be true or false"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')}"
    if kind.startswith("string"):
        return "must be a string"
    return str(item.get("msg", kind)).removeprefix("Value error, ")


def _bounds(field: FieldInfo) -> tuple[Any, Any] | None:
    low = next((m.ge for m in _metadata(field) if getattr(m, "ge", None) is not None), None)
    high = next((m.le for m in _metadata(field) if getattr(m, "le", None) is not None), None)
    return (low, high) if low is not None and high is not None else None


def _metadata(field: FieldInfo | None) -> list[Any]:
    """A field's constraints and `Say`, including those inside `Annotated[…] | None` (pydantic keeps those
    on the inner type, not the field)."""
    if field is None:
        return []
    found = list(field.metadata)
    annotation = field.annotation
    while True:
        if get_origin(annotation) is Annotated:
            annotation, *extra = get_args(annotation)
            found += extra
        elif get_origin(annotation) in (typing.Union, types.UnionType):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        else:
            break
    return [m for item in found for m in ([item, *item.metadata] if isinstance(item, FieldInfo) else [item])]


def _unwrap(annotation: Any) -> Any:
    """`X` of `X | None` and of `Annotated[X, …]`."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) in (typing.Union, types.UnionType):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        else:
            return annotation


def _key(name: str, field: FieldInfo) -> str:
    """The key a field is read from: its alias (`$schema`, an environment variable) or its name."""
    alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
    return alias or name


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _locate(model: type[BaseModel], loc: tuple[str | int, ...]) -> tuple[FieldInfo | None, Any, Any]:
    """Walk `loc` down the model's types: (nearest field, the type holding the last step, the last step's type)."""
    field: FieldInfo | None = None
    parent: Any = None
    annotation: Any = model
    for key in loc:
        parent, annotation = annotation, None
        if _is_model(parent) and isinstance(key, str):
            field = next((f for name, f in parent.model_fields.items() if _key(name, f) == key), None)
            annotation = field.annotation if field else None
        elif get_origin(parent) in (tuple, list) and isinstance(key, int):
            annotation = get_args(parent)[0]
        annotation = _unwrap(annotation)
    return field, parent, annotation


class _DuplicateKey(Exception):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen
