"""Object names under a block's folder (prefix): one rule for every object store.

Example:
    >>> folder = folder_prefix("/raw/sales/")
    >>> folder, under_folder(folder, "/2024.csv"), relative_to_folder(folder, "raw/sales/x")
    ('raw/sales/', 'raw/sales/2024.csv', 'x')
"""

from __future__ import annotations

__all__ = ["folder_prefix", "glob_prefix", "relative_to_folder", "under_folder"]


def folder_prefix(value: str, field: str = "folder") -> str:
    """A folder field as stored: no leading ``/``, one trailing ``/`` (``""``: the root).

    ``.`` and ``..`` segments are refused (``ValueError`` naming ``field``): a block's
    folder never reaches outside itself.

    Example:
        >>> folder_prefix("a/../b", "bucket_folder")
        Traceback (most recent call last):
        ...
        ValueError: bucket_folder may not contain '.' or '..' segments
    """
    value = value.strip("/")
    if any(part in ("..", ".") for part in value.split("/")):
        raise ValueError(f"{field} may not contain '.' or '..' segments")
    return f"{value}/" if value else ""


def under_folder(folder: str, path: str) -> str:
    """The full object name of ``path`` under ``folder`` (a ``folder_prefix`` value).

    Example:
        >>> under_folder("", "/a.csv"), under_folder("raw/", "/a.csv")
        ('/a.csv', 'raw/a.csv')
    """
    return f"{folder}{path.lstrip('/')}" if folder else path


def relative_to_folder(folder: str, full_name: str) -> str:
    """``full_name`` relative to ``folder`` (the inverse of ``under_folder``).

    Example:
        >>> relative_to_folder("raw/", "raw/a.csv")
        'a.csv'
    """
    return full_name[len(folder) :] if folder else full_name


def glob_prefix(pattern: str) -> str:
    """The part of a shell glob before its first wildcard: the listing prefix that lets
    the server narrow a listing the glob then filters.

    Example:
        >>> glob_prefix("2024/*/day-?.csv")
        '2024/'
    """
    cut = len(pattern)
    for char in "*?[":
        index = pattern.find(char)
        if index != -1:
            cut = min(cut, index)
    return pattern[:cut]
