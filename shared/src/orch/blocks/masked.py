"""A saved block as a person may see it, read from its stored document alone.

Nothing is decrypted, so no key is needed and no secret value can come out: an encrypted
secret is masked, a reference and a saved nested block are shown by name. Used by
``orch block inspect`` (without a usable key) and by ``orch ui`` (always).

Example:
    >>> display_stored({"token": {"$secret": "gAAAA..."}, "region": "eu-west-1"})
    {'token': '**********', 'region': 'eu-west-1'}
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["display_stored", "masked_document"]


def display_stored(value: Any) -> Any:
    """A stored document's value as shown to a person, read without decrypting anything.

    Mirrors `orch.blocks.documents.Decoder`: an encrypted secret is masked, a reference
    and a saved nested block are shown by name, an inlined block by its fields.
    """
    from orch.blocks.documents import _unchecked_ref
    from orch.secrets.redaction import MASK

    if isinstance(value, list):
        return [display_stored(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$secret" in value:
        return MASK
    if "$ref" in value:
        # str() of a reference masks a password typed into it by mistake.
        return f"<reference {_unchecked_ref(str(value['$ref']))}>"
    if "$block" in value:
        return f"<block {value['$block']}>"
    if "$type" in value:
        return display_stored(value.get("$data", {}))
    inner = value.get("$dict", value)
    if not isinstance(inner, dict):
        return inner
    return {str(k): display_stored(v) for k, v in inner.items()}


def masked_document(slug: str, name: str) -> tuple[int, dict[str, Any]]:
    """The revision and masked fields of a saved block, from its stored document alone."""
    from orch.blocks.block_store import find_by_name, not_found_message, stored_document
    from orch.errors import BlockCorruptError, BlockNotFoundError

    infos = [i for i in find_by_name(name) if i.slug == slug]
    document = stored_document(slug, name)
    if not infos or document is None:
        raise BlockNotFoundError(not_found_message(slug, name))
    try:
        data = json.loads(document)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise BlockCorruptError(
            f"block {slug}/{name} is corrupt: its stored document is not a JSON object"
        )
    return infos[0].revision, {str(k): display_stored(v) for k, v in data.items()}
