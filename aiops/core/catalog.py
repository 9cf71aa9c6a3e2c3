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
from aiops.core.parameters import ParameterSpec
from aiops.core.paths import data_path
from aiops.core.settings import Settings

DEFAULT_CATALOG_PATH = data_path("actions") / "catalog.yaml"

ParameterValue = str | int | float | bool | None
# Kinds a target field (environment, namespace, service) may be read from: none can carry a path or a newline.
TARGET_KINDS = {"name", "subdomain", "label_value", "enum"}


class RiskClass(StrEnum):
    read_only = "read_only"
    state_changing = "state_changing"
    destructive = "destructive"


class ExecutorName(StrEnum):
    platform_ctl = "platform-ctl"
    webhook = "webhook"
    dry_run = "dry-run"
    opa_data = "opa-data"  # writes policy data (the trust ladder's promotions)


# Executors of actions that change the policy itself (promote_autonomy): only the trust ladder proposes those,
# never a model or an MCP client.
POLICY_EXECUTORS = frozenset({ExecutorName.opa_data})


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    """How many things an action touches: a fixed number, or measured by the executor with a worst case.

    Never read from the proposer's numbers. `measure` names what the executor's read API counts (the
    target's pods, or the pods on the node named by the target); when it cannot be asked, `worst_case`
    applies. `at_least` names a count parameter the action itself creates up to (a scale-up to N pods
    touches N).
    """

    fixed: int | None = Field(None, ge=0)
    measure: Literal["pods", "node_pods"] | None = None
    worst_case: int | None = Field(None, ge=0)
    at_least: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> BlastRadiusSpec:
        if (self.fixed is None) == (self.measure is None):
            raise ValueError("give exactly one of `fixed: N` or `measure: pods|node_pods` (with `worst_case: N`)")
        if self.measure is not None and self.worst_case is None:
            raise ValueError("a measured blast radius needs `worst_case: N` for when the executor cannot be asked")
        return self


class ValueRule(_Spec):
    """One parameter of a compensating action: a constant, another parameter's value, or a boolean negated."""

    value: str | int | bool | None = None
    copy_from: str | None = Field(None, alias="copy")
    negate: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ValueRule:
        if sum(x is not None for x in (self.value, self.copy_from, self.negate)) != 1:
            raise ValueError("give exactly one of `value`, `copy` or `negate`")
        return self

    def apply(self, parameters: dict[str, Any]) -> Any:
        if self.negate is not None:
            return not parameters[self.negate]
        if self.copy_from is not None:
            return parameters[self.copy_from]
        return self.value


class CompensationSpec(_Spec):
    """The action that undoes this one, proposed when a valid veto arrives after it ran. Parameters of the
    compensating action not listed here are copied from the original by name."""

    action: str
    parameters: dict[str, ValueRule] = Field(default_factory=dict)


class ActionSpec(_Spec):
    description: str
    risk_class: RiskClass
    executor: ExecutorName
    parameters: dict[str, ParameterSpec]
    target: TargetSpec
    blast_radius: BlastRadiusSpec
    timeout_s: float | None = Field(None, gt=0, description="how long one executor call may take (default: "
                                    "AIOPS_EXECUTOR_TIMEOUT_S)")
    compensation: CompensationSpec | None = None

    @model_validator(mode="after")
    def _references_exist(self) -> ActionSpec:
        for field_name in ("environment", "namespace", "service"):
            source: TargetFieldSpec = getattr(self.target, field_name)
            if source.param is None:
                continue
            spec = self.parameters.get(source.param)
            if spec is None or spec.kind not in TARGET_KINDS or not spec.required:
                raise ValueError(f"target.{field_name} reads parameter {source.param!r}, which must be a required "
                                 f"parameter of kind {', '.join(sorted(TARGET_KINDS))}")
        if self.blast_radius.at_least is not None:
            spec = self.parameters.get(self.blast_radius.at_least)
            if spec is None or spec.kind != "count":
                raise ValueError(f"blast_radius.at_least reads parameter {self.blast_radius.at_least!r}, "
                                 "which must be a count parameter")
        return self


class _CatalogFile(_Spec):
    version: Literal[1]
    actions: dict[str, ActionSpec]

    @model_validator(mode="after")
    def _compensations_exist(self) -> _CatalogFile:
        for name, spec in self.actions.items():
            if spec.compensation is None:
                continue
            target = self.actions.get(spec.compensation.action)
            if target is None:
                raise ValueError(f"{name}.compensation names action {spec.compensation.action!r}, which is not "
                                 "in the catalog")
            for param, rule in spec.compensation.parameters.items():
                source = rule.negate or rule.copy_from
                if param not in target.parameters or (source is not None and source not in spec.parameters):
                    raise ValueError(f"{name}.compensation.parameters.{param}: no such parameter")
        return self


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
    blast_rule: BlastRadiusSpec


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
            problems.append(f"unknown parameter {str(name)[:80]!r} (allowed: {', '.join(sorted(spec.parameters))})")
        for name, param in spec.parameters.items():
            value = parameters.get(name)
            if value is None:
                if param.required:
                    problems.append(f"missing required parameter {name!r} ({param.kind})")
                continue
            problem = param.problem(name, value)
            if problem:
                problems.append(problem)
        if problems:
            raise InvalidAction(action, problems)
        # Only declared, checked values go on (a null is an absent optional parameter).
        checked = {name: parameters[name] for name in spec.parameters if parameters.get(name) is not None}
        return ValidatedAction(
            action=action, parameters=checked, target=self._target(spec, checked),
            blast_radius=self._blast_radius(spec, checked), risk_class=spec.risk_class,
            executor=spec.executor, description=spec.description, blast_rule=spec.blast_radius,
        )

    @staticmethod
    def _target(spec: ActionSpec, parameters: dict[str, Any]) -> Target:
        def read(source: TargetFieldSpec) -> str:
            return str(parameters[source.param]) if source.param is not None else str(source.value)

        return Target(read(spec.target.environment), read(spec.target.namespace), read(spec.target.service))

    @staticmethod
    def _blast_radius(spec: ActionSpec, parameters: dict[str, Any]) -> int:
        """The most the action can touch without asking anyone: its fixed count, or the catalog's worst case."""
        rule = spec.blast_radius
        if rule.fixed is not None:
            return rule.fixed
        return at_least(rule, parameters, int(rule.worst_case or 0))

    def policy_data(self) -> dict[str, dict[str, Any]]:
        """Each action's parameter specs as `data.aiops.actions[action].parameters` holds them for Rego."""
        return {name: {param: p.policy_data() for param, p in spec.parameters.items()}
                for name, spec in self.actions.items()}


def at_least(rule: BlastRadiusSpec, parameters: dict[str, Any], measured: int) -> int:
    """A measured (or worst-case) count, raised to the count parameter the action creates up to."""
    if rule.at_least is not None and isinstance(parameters.get(rule.at_least), int):
        return max(measured, int(parameters[rule.at_least]))
    return measured


def validate(action: str, parameters: dict[str, Any], catalog: ActionCatalog | None = None) -> ValidatedAction:
    """Validate against `catalog` (default: actions/catalog.yaml in the project)."""
    return (catalog or ActionCatalog.load()).validate(action, parameters)
