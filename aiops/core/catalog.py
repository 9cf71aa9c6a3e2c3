"""The action catalog (actions/catalog.yaml): what may be proposed, with which parameters, where, and by whom run.

Code validates every proposed action against it (a model's output included) before policy sees it:
`validate(action, parameters)` raises `InvalidAction` with every problem found, or returns the action
with its target, blast-radius estimate, risk class and executor.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aiops.core.errors import CatalogError, InvalidAction
from aiops.core.paths import data_path
from aiops.core.settings import Settings

DEFAULT_CATALOG_PATH = data_path("actions") / "catalog.yaml"

ParameterValue = str | int | float | bool | None


class RiskClass(StrEnum):
    read_only = "read_only"
    state_changing = "state_changing"
    destructive = "destructive"


class ExecutorName(StrEnum):
    platform_ctl = "platform-ctl"
    webhook = "webhook"
    dry_run = "dry-run"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParameterSpec(_Spec):
    type: Literal["string", "integer", "number", "boolean"]
    required: bool = True
    description: str = ""
    enum: list[str | int | float | bool] | None = None
    min: float | None = None
    max: float | None = None
    default: str | int | float | bool | None = Field(
        None, description="what the executor assumes when the parameter is absent (documentation only)")

    def problem(self, name: str, value: ParameterValue) -> str | None:
        """Why `value` does not fit this parameter, or None."""
        expected = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean"}
        ok = {
            "string": isinstance(value, str),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "boolean": isinstance(value, bool),
        }[self.type]
        if not ok:
            return f"parameter {name!r} must be {expected[self.type]}, got {type(value).__name__} {value!r}"
        if self.type == "string" and not str(value).strip():
            return f"parameter {name!r} must not be empty"
        if self.enum is not None and value not in self.enum:
            return f"parameter {name!r} must be one of {self.enum}, got {value!r}"
        if self.min is not None and value < self.min:  # type: ignore[operator]
            return f"parameter {name!r} must be >= {self.min:g}, got {value!r}"
        if self.max is not None and value > self.max:  # type: ignore[operator]
            return f"parameter {name!r} must be <= {self.max:g}, got {value!r}"
        return None


class TargetFieldSpec(_Spec):
    param: str | None = None
    value: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> TargetFieldSpec:
        if (self.param is None) == (self.value is None):
            raise ValueError("give exactly one of `param` (a parameter name) or `value` (a constant)")
        return self


class TargetSpec(_Spec):
    environment: TargetFieldSpec
    namespace: TargetFieldSpec
    service: TargetFieldSpec


class BlastRadiusSpec(_Spec):
    fixed: int | None = Field(None, ge=0)
    param: str | None = None
    default: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_source(self) -> BlastRadiusSpec:
        if (self.fixed is None) == (self.param is None):
            raise ValueError("give exactly one of `fixed: N` or `param: NAME` (with an optional `default: N`)")
        return self


class ActionSpec(_Spec):
    description: str
    risk_class: RiskClass
    executor: ExecutorName
    parameters: dict[str, ParameterSpec]
    target: TargetSpec
    blast_radius: BlastRadiusSpec

    @model_validator(mode="after")
    def _references_exist(self) -> ActionSpec:
        for field_name in ("environment", "namespace", "service"):
            source: TargetFieldSpec = getattr(self.target, field_name)
            if source.param is None:
                continue
            spec = self.parameters.get(source.param)
            if spec is None or spec.type != "string" or not spec.required:
                raise ValueError(f"target.{field_name} reads parameter {source.param!r}, "
                                 "which must be a required string parameter")
        if self.blast_radius.param is not None:
            spec = self.parameters.get(self.blast_radius.param)
            if spec is None or spec.type != "integer":
                raise ValueError(f"blast_radius reads parameter {self.blast_radius.param!r}, "
                                 "which must be an integer parameter")
            if not spec.required and self.blast_radius.default is None:
                raise ValueError(f"blast_radius reads the optional parameter {self.blast_radius.param!r} "
                                 "and needs a `default`")
        return self


class _CatalogFile(_Spec):
    version: Literal[1]
    actions: dict[str, ActionSpec]


@dataclass(frozen=True)
class Target:
    environment: str
    namespace: str
    service: str

    def as_dict(self) -> dict[str, str]:
        return {"environment": self.environment, "namespace": self.namespace, "service": self.service}


@dataclass(frozen=True)
class ValidatedAction:
    """A catalog action whose parameters fit, with what code derives from them."""

    action: str
    parameters: dict[str, ParameterValue]
    target: Target
    blast_radius: int
    risk_class: RiskClass
    executor: ExecutorName
    description: str


class ActionCatalog:
    """The loaded catalog: action name -> ActionSpec."""

    def __init__(self, actions: dict[str, ActionSpec], source: str = "<memory>"):
        self.actions = actions
        self.source = source

    @classmethod
    def load(cls, path: Path = DEFAULT_CATALOG_PATH) -> ActionCatalog:
        try:
            raw = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise CatalogError(f"cannot read the action catalog {path}: {exc}") from exc
        try:
            parsed = _CatalogFile.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise CatalogError(f"action catalog {path} is malformed: {problems}") from None
        return cls(parsed.actions, str(path))

    @classmethod
    def for_settings(cls, settings: Settings) -> ActionCatalog:
        return cls.load(settings.action_catalog)

    def __contains__(self, action: object) -> bool:
        return action in self.actions

    def __getitem__(self, action: str) -> ActionSpec:
        try:
            return self.actions[action]
        except KeyError:
            raise InvalidAction(action, [self._unknown(action)]) from None

    def _unknown(self, action: str) -> str:
        return f"action {action!r} is not in the action catalog (known: {', '.join(sorted(self.actions))})"

    def validate(self, action: str, parameters: dict[str, Any]) -> ValidatedAction:
        """Check an action and its parameters against the catalog; raises InvalidAction listing every problem."""
        if not isinstance(action, str) or action not in self.actions:
            raise InvalidAction(str(action), [self._unknown(str(action))])
        spec = self.actions[action]
        if not isinstance(parameters, dict):
            raise InvalidAction(action, [f"parameters must be an object, got {type(parameters).__name__}"])
        problems: list[str] = []
        for name in sorted(set(parameters) - set(spec.parameters)):
            problems.append(f"unknown parameter {name!r} (allowed: {', '.join(sorted(spec.parameters))})")
        for name, param in spec.parameters.items():
            value = parameters.get(name)
            if value is None:
                if param.required:
                    problems.append(f"missing required parameter {name!r} ({param.type})")
                continue
            problem = param.problem(name, value)
            if problem:
                problems.append(problem)
        if problems:
            raise InvalidAction(action, problems)
        return ValidatedAction(
            action=action, parameters=dict(parameters), target=self._target(spec, parameters),
            blast_radius=self._blast_radius(spec, parameters), risk_class=spec.risk_class,
            executor=spec.executor, description=spec.description,
        )

    @staticmethod
    def _target(spec: ActionSpec, parameters: dict[str, Any]) -> Target:
        def read(source: TargetFieldSpec) -> str:
            return str(parameters[source.param]) if source.param is not None else str(source.value)

        return Target(read(spec.target.environment), read(spec.target.namespace), read(spec.target.service))

    @staticmethod
    def _blast_radius(spec: ActionSpec, parameters: dict[str, Any]) -> int:
        rule = spec.blast_radius
        if rule.fixed is not None:
            return rule.fixed
        value = parameters.get(rule.param or "")
        return int(value) if value is not None else int(rule.default or 0)

    def estimate_blast_radius(self, action: str, parameters: dict[str, Any]) -> int:
        """The catalog's blast-radius estimate for a valid action (raises InvalidAction otherwise)."""
        return self.validate(action, parameters).blast_radius


def validate(action: str, parameters: dict[str, Any], catalog: ActionCatalog | None = None) -> ValidatedAction:
    """Validate against `catalog` (default: actions/catalog.yaml in the project)."""
    return (catalog or ActionCatalog.load()).validate(action, parameters)
