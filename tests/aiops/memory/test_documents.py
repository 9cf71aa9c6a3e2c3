"""The handbook corpus format: front matter parsed into HandbookDocument, clear errors naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiops.memory.documents import HandbookDocument, load_document, load_handbook, parse_document
from aiops.memory.errors import HandbookFormatError
from tests.aiops.memory.conftest import HANDBOOK

POSTMORTEM = """---
id: pm-2025-01-x
kind: postmortem
title: "x"
services: [orders-db, orders-api]
symptoms:
  - "alert PostgresDiskUsageCritical on orders-db"
date: 2025-01-02
severity: SEV2
root_cause_service: orders-db
actions:
  - action: collect_diagnostics
    parameters: {service: orders-db, namespace: shop}
    when: first
---
# Body

Text.
"""


def test_the_sample_handbook_parses(handbook: list[HandbookDocument]) -> None:
    kinds = [d.kind for d in handbook]
    assert kinds.count("postmortem") == 20 and kinds.count("runbook") >= 10 and "note" in kinds
    for document in handbook:
        assert document.body.startswith("#")
        if document.kind == "postmortem":
            assert document.root_cause_service == document.services[0] and document.date and document.severity


def test_fields_and_indexed_text() -> None:
    document = parse_document(POSTMORTEM, "pm.md")
    assert document.date.isoformat() == "2025-01-02"
    assert document.actions[0].parameters == {"service": "orders-db", "namespace": "shop"}
    record = document.to_record()
    assert (record.id, record.kind, record.services) == ("pm-2025-01-x", "postmortem", ["orders-db", "orders-api"])
    # Symptoms weigh most: they are repeated in the indexed text; title, services and body are in it once.
    assert record.text.count("alert PostgresDiskUsageCritical on orders-db") == 3
    assert "services: orders-db orders-api" in record.text and record.text.endswith("# Body\n\nText.")


@pytest.mark.parametrize(("text", "message"), [
    ("# just markdown\n", "no YAML front matter"),
    ("---\nid: x\nkind: note\n", "no YAML front matter"),
    ("---\nid: x\n  kind: [note\n---\nbody\n",
     "malformed YAML front matter: mapping values are not allowed here (line 3"),
    ("---\n- a list\n---\n", "must be a YAML mapping"),
    ("---\nid: x\nkind: story\ntitle: t\nservices: [a]\n---\n", "kind: Input should be 'postmortem'"),
    ("---\nid: x\nkind: note\ntitle: t\nservices: [a]\ntags: [y]\n---\n", "tags: Extra inputs are not permitted"),
    ("---\nid: x\nkind: runbook\ntitle: t\nservices: [a]\n---\n", "a runbook needs symptoms"),
    (POSTMORTEM.replace("root_cause_service: orders-db", "root_cause_service: orders-api"),
     "root_cause_service 'orders-api' must equal services[0] 'orders-db'"),
    (POSTMORTEM.replace("severity: SEV2\n", ""), "a postmortem needs severity"),
])
def test_malformed_front_matter_names_the_file(text: str, message: str) -> None:
    with pytest.raises(HandbookFormatError) as error:
        parse_document(text, "handbook/postmortems/pm-bad.md")
    assert str(error.value).startswith("handbook/postmortems/pm-bad.md: ")
    assert message in str(error.value)


def test_id_must_match_the_file_name_and_be_unique(tmp_path: Path) -> None:
    wrong = tmp_path / "pm-other.md"
    wrong.write_text(POSTMORTEM)
    with pytest.raises(HandbookFormatError, match="pm-other.md: id 'pm-2025-01-x' must equal the file name"):
        load_document(wrong)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "pm-2025-01-x.md").write_text(POSTMORTEM)
    (tmp_path / "b" / "pm-2025-01-x.md").write_text(POSTMORTEM)
    wrong.unlink()
    (tmp_path / "README.md").write_text("not a document")
    with pytest.raises(HandbookFormatError, match="id 'pm-2025-01-x' is already used by"):
        load_handbook(tmp_path)


def test_every_handbook_file_is_a_document() -> None:
    files = sorted(p for p in HANDBOOK.rglob("*.md") if p.name != "README.md")
    assert [d.id for d in load_handbook(HANDBOOK)] == [p.stem for p in files]
