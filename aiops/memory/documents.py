"""The handbook corpus format (Markdown with YAML front matter) and the records the memory store indexes."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aiops.memory.errors import HandbookFormatError

HANDBOOK_KINDS = ("postmortem", "runbook", "note")
# Everything the store holds: handbook documents, and incidents written back when they resolve.
MEMORY_KINDS = (*HANDBOOK_KINDS, "incident")
# Symptoms are the main retrieval signal (handbook/README.md), so the indexed text repeats them: BM25 counts
# each repetition as a term occurrence, which lifts symptom terms over terms that only appear in the prose.
SYMPTOM_WEIGHT = 3
MAX_TEXT_CHARS = 60_000  # under the VARCHAR limit of the text field (65,535 bytes), with room for UTF-8

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(?P<yaml>.*?)^---[ \t]*\r?$\n?(?P<body>.*)\Z", re.S | re.M)
_KEBAB_ID = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


class MemoryRecord(BaseModel):
    """One entry of the memory store: what is indexed (text) and what a hit shows (kind, title, services)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=256)
    kind: Literal["postmortem", "runbook", "note", "incident"]
    title: str = Field(max_length=1000)
    services: list[str] = Field(default_factory=list, max_length=64)
    text: str = Field(min_length=1)

    @field_validator("text")
    @classmethod
    def _bounded_text(cls, text: str) -> str:
        # A longer text would be refused by Milvus; its head carries the title, services and symptoms.
        return text[:MAX_TEXT_CHARS]

    @field_validator("services")
    @classmethod
    def _bounded_services(cls, services: list[str]) -> list[str]:
        return [s[:128] for s in services]


class HandbookAction(BaseModel):
    """A catalog action a runbook prescribes or a postmortem records as executed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=dict)
    when: str = ""


class HandbookDocument(BaseModel):
    """A handbook file: its front matter (handbook/README.md) and its Markdown body."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_KEBAB_ID)
    kind: Literal["postmortem", "runbook", "note"]
    title: str = Field(min_length=1)
    services: list[str] = Field(min_length=1)
    symptoms: list[str] = Field(default_factory=list)
    date: dt.date | None = None
    severity: Literal["SEV1", "SEV2", "SEV3", "SEV4"] | None = None
    root_cause_service: str | None = None
    actions: list[HandbookAction] = Field(default_factory=list)
    related: list[str] = Field(default_factory=list)
    body: str = ""

    @model_validator(mode="after")
    def _required_by_kind(self) -> HandbookDocument:
        if self.kind in ("runbook", "postmortem") and not self.symptoms:
            raise ValueError(f"a {self.kind} needs symptoms (they are the main retrieval signal)")
        if self.kind == "postmortem":
            missing = [name for name in ("date", "severity", "root_cause_service") if getattr(self, name) is None]
            if missing:
                raise ValueError(f"a postmortem needs {', '.join(missing)}")
            if self.root_cause_service != self.services[0]:
                raise ValueError(f"root_cause_service {self.root_cause_service!r} must equal services[0] "
                                 f"{self.services[0]!r}")
        return self

    def indexed_text(self) -> str:
        """The text BM25 (and the embedding model) see: title, services, symptoms (weighted), actions, body."""
        parts = [self.title, "services: " + " ".join(self.services)]
        if self.root_cause_service:
            parts.append(f"root cause: {self.root_cause_service}")
        for _ in range(SYMPTOM_WEIGHT):
            parts.extend(self.symptoms)
        parts.extend(f"action {a.action} {_parameters(a.parameters)}".rstrip() for a in self.actions)
        parts.append(self.body)
        return "\n".join(p for p in parts if p)

    def to_record(self) -> MemoryRecord:
        """The memory store entry for this document."""
        return MemoryRecord(id=self.id, kind=self.kind, title=self.title, services=list(self.services),
                            text=self.indexed_text())


def _parameters(parameters: dict[str, Any]) -> str:
    return " ".join(f"{name}={value}" for name, value in parameters.items())


def parse_document(text: str, source: str | Path) -> HandbookDocument:
    """Parse one handbook file's text.

    Args:
        text: the file's content.
        source: the file name, used in error messages.

    Raises:
        HandbookFormatError: no front matter, malformed YAML, or fields that break the handbook format.
    """
    match = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if match is None:
        raise HandbookFormatError(f"{source}: no YAML front matter (the file must start with a line '---' and the "
                                  "front matter must end with another line '---')")
    try:
        front = yaml.safe_load(match["yaml"])
    except yaml.YAMLError as exc:
        raise HandbookFormatError(f"{source}: malformed YAML front matter: {_yaml_problem(exc)}") from None
    if not isinstance(front, dict):
        raise HandbookFormatError(f"{source}: the front matter must be a YAML mapping of fields, "
                                  f"not {type(front).__name__}")
    try:
        return HandbookDocument.model_validate({**front, "body": match["body"].strip()})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'front matter'}: {err['msg']}" for err in exc.errors())
        raise HandbookFormatError(f"{source}: invalid front matter: {problems}") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's problem, with line numbers of the file (its opening '---' is line 1)."""

    def at(mark: Any) -> str:
        return f" (line {mark.line + 2}, column {mark.column + 1})" if mark is not None else ""

    problem = getattr(exc, "problem", None)
    if not problem:
        return str(exc)
    context = getattr(exc, "context", None)
    text = f"{context}{at(getattr(exc, 'context_mark', None))}: " if context else ""
    return f"{text}{problem}{at(getattr(exc, 'problem_mark', None))}"


def load_document(path: Path) -> HandbookDocument:
    """Read and parse one handbook file; its id must equal its file name without `.md`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HandbookFormatError(f"{path}: cannot read: {exc}") from None
    document = parse_document(text, path)
    if document.id != path.stem:
        raise HandbookFormatError(f"{path}: id {document.id!r} must equal the file name without .md ({path.stem!r})")
    return document


def handbook_files(directory: Path) -> list[Path]:
    """The handbook documents under a directory: every `*.md` below it except README files."""
    if not directory.is_dir():
        raise HandbookFormatError(f"{directory}: not a directory")
    return sorted(p for p in directory.rglob("*.md") if p.is_file() and p.name.lower() != "readme.md")


def load_handbook(directory: Path) -> list[HandbookDocument]:
    """Parse every handbook document under a directory.

    Raises:
        HandbookFormatError: a file is malformed, or two files share an id.
    """
    return check_unique((path, load_document(path)) for path in handbook_files(directory))


def check_unique(documents: Iterable[tuple[Path, HandbookDocument]]) -> list[HandbookDocument]:
    """The documents, after checking that no two files share an id."""
    seen: dict[str, Path] = {}
    result: list[HandbookDocument] = []
    for path, document in documents:
        if document.id in seen:
            raise HandbookFormatError(f"{path}: id {document.id!r} is already used by {seen[document.id]}")
        seen[document.id] = path
        result.append(document)
    return result


def count_by_kind(kinds: Sequence[str]) -> dict[str, int]:
    """How many of each kind, in the order of MEMORY_KINDS (for summaries)."""
    return {kind: kinds.count(kind) for kind in MEMORY_KINDS if kind in kinds}
