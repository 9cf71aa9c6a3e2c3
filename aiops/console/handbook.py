"""The handbook as the console links to it: documents by id (read once, on first use), Markdown bodies as HTML."""

from __future__ import annotations

import logging
from pathlib import Path

from markdown_it import MarkdownIt
from markupsafe import Markup

from aiops.memory.documents import HandbookDocument, load_handbook
from aiops.memory.errors import HandbookFormatError

log = logging.getLogger(__name__)

# Raw HTML in a document stays text: the handbook is written by people, but the console never trusts markup.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


def render_markdown(text: str) -> Markup:
    """Markdown to HTML with raw HTML escaped and unsafe link schemes (javascript:, data:) refused."""
    return Markup(_MARKDOWN.render(text))  # noqa: S704 - markdown-it escapes text and raw HTML (html=False)


class Handbook:
    """The documents under one directory; an unreadable handbook is an empty one, with the reason kept."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._documents: dict[str, HandbookDocument] | None = None
        self.problem: str | None = None

    def _load(self) -> dict[str, HandbookDocument]:
        if self._documents is None:
            try:
                self._documents = {doc.id: doc for doc in load_handbook(self.directory)}
            except (HandbookFormatError, OSError) as exc:
                self.problem = f"cannot read the handbook at {self.directory}: {exc}"
                log.warning("%s", self.problem)
                self._documents = {}
        return self._documents

    def get(self, doc_id: str) -> HandbookDocument | None:
        return self._load().get(doc_id)

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and doc_id in self._load()
