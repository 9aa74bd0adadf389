"""What a workflow file says about workflow_dispatch: whether it has the trigger, and
the inputs it declares (pure: text in, records out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from pilothouse.errors import ConfigError, InputError

# A workflow file is a few KB; GitHub refuses one over 512 KB (its file size limit for
# workflows is far lower than this), so anything larger is not one to parse.
MAX_WORKFLOW_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class DispatchInput:
    """One input of a workflow_dispatch trigger."""

    name: str
    required: bool = False
    default: str | None = None
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DispatchTrigger:
    """A workflow file's workflow_dispatch trigger (None when the file has none)."""

    inputs: tuple[DispatchInput, ...] = ()

    def input(self, name: str) -> DispatchInput | None:
        return next((i for i in self.inputs if i.name == name), None)


def _triggers(data: Any) -> Any:
    """The `on:` value: YAML 1.1 (PyYAML) reads the bare key `on` as True."""
    if not isinstance(data, dict):
        return None
    return data["on"] if "on" in data else data.get(True)


def _input(name: Any, spec: Any) -> DispatchInput:
    spec = spec if isinstance(spec, dict) else {}
    default = spec.get("default")
    options = spec.get("options") if isinstance(spec.get("options"), list) else []
    return DispatchInput(
        name=str(name),
        required=spec.get("required") is True,
        default=None if default is None else _text(default),
        options=tuple(_text(o) for o in options),
    )


def _text(value: Any) -> str:
    """A YAML scalar as the text GitHub sends (true, not True)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def dispatch_trigger(text: str, *, source: str) -> DispatchTrigger | None:
    """The workflow_dispatch trigger of workflow file *text* (named *source* in errors).

    >>> dispatch_trigger("on: [push, workflow_dispatch]\\njobs: {}", source="ci.yml")
    DispatchTrigger(inputs=())
    >>> dispatch_trigger("on: push\\njobs: {}", source="ci.yml") is None
    True
    """
    if len(text) > MAX_WORKFLOW_BYTES:
        raise InputError(f"{source}: {len(text)} bytes is too large for a workflow file")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise InputError(f"{source}{where}: not valid YAML ({problem})") from None
    on = _triggers(data)
    if on == "workflow_dispatch" or (isinstance(on, list) and "workflow_dispatch" in on):
        return DispatchTrigger()
    if not isinstance(on, dict) or "workflow_dispatch" not in on:
        return None
    trigger = on["workflow_dispatch"]
    inputs = trigger.get("inputs") if isinstance(trigger, dict) else None
    if not isinstance(inputs, dict):
        return DispatchTrigger()
    return DispatchTrigger(tuple(_input(name, spec) for name, spec in inputs.items()))


def parse_inputs(pairs: Sequence[str]) -> dict[str, str]:
    """`--input k=v` values as a dict; a pair without `=` or with an empty name is a
    usage error (ValueError naming it).

    >>> parse_inputs(["level=debug", "note=a=b"])
    {'level': 'debug', 'note': 'a=b'}
    """
    inputs: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{pair!r}: expected NAME=VALUE")
        inputs[name.strip()] = value
    return inputs


def check_inputs(trigger: DispatchTrigger, given: Mapping[str, str], *, source: str) -> None:
    """Refuse what GitHub would refuse (422), before dispatching: an input the trigger
    does not declare, a required one missing (without a default), a choice not offered."""
    unknown = sorted(set(given) - {i.name for i in trigger.inputs})
    if unknown:
        declared = ", ".join(i.name for i in trigger.inputs) or "none"
        raise ConfigError(
            f"{source}: workflow_dispatch declares no input {', '.join(unknown)} "
            f"(declared: {declared})"
        )
    for item in trigger.inputs:
        if item.required and item.default is None and item.name not in given:
            raise ConfigError(f"{source}: input {item.name} is required: --input {item.name}=...")
        value = given.get(item.name)
        if value is not None and item.options and value not in item.options:
            raise ConfigError(
                f"{source}: input {item.name}={value!r} is not one of {', '.join(item.options)}"
            )
