"""What a reconcile found and did: ``ReconcileSummary`` (stdout and ``--summary-json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class ReconcileSummary:
    """The result of ``reconcile()``.

    ``checked``: flagged, pending or ``AMBIGUOUS`` failed lines carrying an identifying property;
    ``duplicates_found``: surplus copies found (archived with ``apply``, else what ``apply`` would archive:
    ``would_archive``, the first ``LISTED_IDS``); ``archived`` and ``archived_ids``: what was archived (the first
    ``LISTED_IDS`` ids; ``archived`` counts them all, and ``OUT.reconcile.ndjson`` holds every one); ``settled``:
    new outcome lines written; ``not_checkable``: lines that could not be checked (``not_checkable_lines``: without
    an identifying value or without ``sent_at``; ``lagging_values``: values whose named object the search index does
    not show yet); ``requests``: HTTP requests (searches, archives, the property read).
    """

    checked: int = 0
    duplicates_found: int = 0
    archived: int = 0
    settled: int = 0
    not_checkable: int = 0
    archived_ids: list[str] = field(default_factory=list)
    requests: int = 0
    search_requests: int = 0
    would_archive: list[str] = field(default_factory=list)
    would_settle: int = 0
    not_checkable_lines: list[int] = field(default_factory=list)
    lagging_values: int = 0
    key: str = ""
    applied: bool = False

    @property
    def exit_status(self) -> int:
        """0 nothing left to repair; 1 duplicates found and not archived, lines ``apply`` would settle, or values not
        checkable yet."""
        unarchived = self.duplicates_found > self.archived
        return 1 if unarchived or self.lagging_values or self.would_settle else 0

    def list_archived(self, ids: list[str]) -> None:
        """Keep ``ids`` among ``archived_ids`` while fewer than ``LISTED_IDS`` are listed (memory stays bounded)."""
        self.archived_ids.extend(ids[: max(0, LISTED_IDS - len(self.archived_ids))])

    def list_would_archive(self, ids: list[str]) -> None:
        """Keep ``ids`` among ``would_archive`` while fewer than ``LISTED_IDS`` are listed."""
        self.would_archive.extend(ids[: max(0, LISTED_IDS - len(self.would_archive))])

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON values (``exit_status`` included)."""
        data = asdict(self)
        data["exit_status"] = self.exit_status
        return data


#: At most this many lines are listed in ``not_checkable_lines`` (the count is always whole).
LISTED_LINES = 1000
#: At most this many ids are listed in ``archived_ids`` and ``would_archive`` (``archived`` and
#: ``duplicates_found`` count them all; ``OUT.reconcile.ndjson`` holds every archived id).
LISTED_IDS = 1000
