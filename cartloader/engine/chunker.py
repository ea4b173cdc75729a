"""The chunker: groups normalized records into batches of up to ``batch_size``, each input with an
``objectWriteTraceId`` unique within its request (design rule 1). Pure: no I/O and no clock, so the
pipeline and the dry run share it."""

from __future__ import annotations

from collections.abc import Hashable

from cartloader.engine.matching import Kinds, answer_key, associations_key
from cartloader.hubspot.associations import links
from cartloader.models import CartInput, InvalidInput


def missing_upsert_key(record: CartInput, unique_by: str) -> InvalidInput:
    """The invalid outcome of a record without the property that upsert mode keys on."""
    return InvalidInput(record.line, f'line {record.line}: property "{unique_by}" is required for upsert', record.raw)


class Chunker:
    """Feed records one at a time; take the batches they complete.

    A record's own trace id is kept; others get ``<run id>-<line>``. A trace id already in the open
    batch, or a value of ``unique_by`` (the upsert key) or of another ``unique`` property already in it, closes
    that batch first, so two inputs of one request never share a trace id or a unique value (HubSpot would
    refuse the whole request). Nor do two inputs an answer cannot tell apart (equal stored values, see
    :func:`~cartloader.engine.matching.answer_key`) whose associations differ: once a record with associations
    is in the open batch, each record's key is checked, and a record that would make such a pair closes the
    batch first. In upsert mode (``unique_by``) a record must carry its key, and associations only
    whose target object type is known (they are written through the associations API after the upsert). A batch
    is handed out as soon as it is full.
    """

    __slots__ = (
        "_batch",
        "_batch_size",
        "_keys",
        "_linked",
        "_object_type",
        "_run_id",
        "_unique",
        "_unique_by",
        "_values",
        "kinds",
    )

    def __init__(
        self,
        *,
        batch_size: int,
        run_id: str,
        unique_by: str | None = None,
        unique: tuple[str, ...] = (),
        object_type: str = "carts",
    ) -> None:
        self._object_type = object_type
        self._batch_size = batch_size
        self._run_id = run_id
        self._unique_by = unique_by
        self.unique = unique
        self._batch: list[CartInput] = []
        self._keys: set[str] = set()
        self._values: set[tuple[str, str]] = set()
        #: Each property's type (from the portal's schema, once read): which values an answer cannot tell apart.
        self.kinds: Kinds = {}
        # Once the open batch holds a record with associations: each record's answer key -> its associations.
        self._linked: dict[tuple[Hashable, ...], bytes] | None = None

    @property
    def unique(self) -> tuple[str, ...]:
        """The unique properties besides the upsert key whose values never share a request."""
        return self._unique

    @unique.setter
    def unique(self, names: tuple[str, ...]) -> None:
        self._unique = tuple(name for name in dict.fromkeys(names) if name != self._unique_by)

    def __len__(self) -> int:
        """Records in the open batch."""
        return len(self._batch)

    def feed(self, record: CartInput) -> list[CartInput] | InvalidInput | None:
        """Add ``record``; return the batch it completed (or closed), the record as invalid when upsert
        mode needs a key it lacks (it is not added), or ``None``."""
        key = record.trace_id or f"{self._run_id}-{record.line}"
        record.key = key
        values: list[tuple[str, str]] | None = None
        if self._unique_by is not None or self._unique:  # most loads keep no unique value apart: no list then
            found = self._unique_values(record)
            if isinstance(found, InvalidInput):
                return found
            values = found
        closed: list[CartInput] | None = None
        if (
            key in self._keys
            or (values and not self._values.isdisjoint(values))
            # associations in play (most loads have none: no key computed then)
            or ((record.associations or self._linked is not None) and self._indistinct(record))
        ):
            closed = self.flush()
            self._indistinct(record)
        batch = self._batch
        batch.append(record)
        self._keys.add(key)
        if values:
            self._values.update(values)
        if len(batch) >= self._batch_size:
            # A batch just reopened by a repeated key holds one record: full only at batch size 1, where
            # every record leaves at once and nothing can repeat, so no closed batch is dropped here.
            assert closed is None
            return self.flush()
        return closed

    def _indistinct(self, record: CartInput) -> bool:
        """Whether ``record`` and an input of the open batch would be told apart by no answer (equal answer keys)
        while their associations differ. Keys are only computed while associations are in play; ``record`` is
        noted as a member."""
        linked = self._linked
        if linked is None:
            if not record.associations:
                return False  # no associations anywhere in the batch: equal inputs are interchangeable
            linked = self._linked = {answer_key(r, self.kinds): associations_key(r) for r in self._batch}
        key = answer_key(record, self.kinds)
        associations = associations_key(record)
        known = linked.setdefault(key, associations)
        return known != associations

    def _unique_values(self, record: CartInput) -> list[tuple[str, str]] | InvalidInput:
        """The (property, value) pairs of ``record`` that no other input of its request may share; invalid when
        upsert mode's key is missing or an association's target type cannot be known."""
        values: list[tuple[str, str]] = []
        properties = record.properties
        unique_by = self._unique_by
        if unique_by is not None:
            value = properties.get(unique_by)
            if not value:
                return missing_upsert_key(record, unique_by)
            if record.associations:
                found = links(record.associations, self._object_type)
                if isinstance(found, str):
                    return InvalidInput(record.line, f"line {record.line}: {found}", record.raw)
            values.append((unique_by, value))
        for name in self._unique:
            value = properties.get(name)
            if value:
                values.append((name, value))
        return values

    def flush(self) -> list[CartInput] | None:
        """Hand out the open batch (``None`` when it is empty) and start a new one."""
        batch = self._batch
        if not batch:
            return None
        self._batch = []
        self._keys = set()
        self._values = set()
        self._linked = None
        return batch

    def __repr__(self) -> str:
        return f"Chunker(open={len(self._batch)}, batch_size={self._batch_size})"
