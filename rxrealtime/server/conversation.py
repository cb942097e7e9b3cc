"""The server-side conversation: an ordered list of items in wire form, plus their audio."""

from __future__ import annotations

import copy
from typing import Any

import attrs

from rxrealtime.server import errors

__all__ = ["Conversation", "StoredItem"]


@attrs.define
class StoredItem:
    """One conversation item.

    ``wire`` is the item as the conversation holds it (what ``conversation.item.retrieve``
    returns and the model reads); ``audio`` holds the item's PCM16 (a user's input audio, or the
    assistant audio sent so far); ``audio_ms`` is the duration of that audio the client has been
    sent or truncated to (what ``truncate`` checks against). Once ``truncated``, an assistant
    item's audio and transcript stay cut where the client truncated them, even while its
    response streams on.
    """

    wire: dict[str, Any]
    audio: bytearray = attrs.field(factory=bytearray)
    audio_ms: int = 0
    truncated: bool = False

    @property
    def id(self) -> str:
        return str(self.wire["id"])

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of the wire form, safe to hand to an event or a model."""
        return copy.deepcopy(self.wire)


class Conversation:
    """Ordered items with O(1) lookup by id. Not thread-safe (one per connection)."""

    def __init__(self, conversation_id: str) -> None:
        self.id = conversation_id
        self._items: list[StoredItem] = []
        self._by_id: dict[str, StoredItem] = {}

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[StoredItem]:
        """The items, oldest first (a new list)."""
        return list(self._items)

    def get(self, item_id: str) -> StoredItem | None:
        return self._by_id.get(item_id)

    def add(self, item: StoredItem, previous_item_id: str | None = None) -> str | None:
        """Insert ``item`` after ``previous_item_id`` (``"root"``: first; ``None``: last) and
        return the id of the item now before it (``None`` at the start)."""
        if item.id in self._by_id:
            raise errors.ClientError(
                f"Item with id '{item.id}' already exists.", code="invalid_value", param="item.id"
            )
        if previous_item_id is None:
            position = len(self._items)
        elif previous_item_id == "root":
            position = 0
        else:
            previous = self._by_id.get(previous_item_id)
            if previous is None:
                raise errors.ClientError(
                    f"Previous item with id '{previous_item_id}' not found.",
                    code="invalid_value",
                    param="previous_item_id",
                )
            position = self._items.index(previous) + 1
        self._items.insert(position, item)
        self._by_id[item.id] = item
        return self._items[position - 1].id if position > 0 else None

    def delete(self, item_id: str) -> bool:
        item = self._by_id.pop(item_id, None)
        if item is None:
            return False
        self._items.remove(item)
        return True
