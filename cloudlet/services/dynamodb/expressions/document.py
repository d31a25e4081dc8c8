"""Reading document paths out of items: the one place that walks maps and lists.

A path is a tuple of ``str`` (a top-level attribute name or a map key) and
``int`` (a list index), as the checkers resolve it from ``a.#b[2]``. Getters
are built once per compiled expression: a top-level name (the common case in
filters) becomes a bare ``dict.get``.
"""

from __future__ import annotations

from collections.abc import Callable

from cloudlet.services.dynamodb.values import AV

Getter = Callable[[dict], "AV | None"]


def get_path(item: dict, path: tuple) -> AV | None:
    """The value at ``path`` in ``item`` (a top-level attribute dict), or None."""
    cur = item.get(path[0])
    for step in path[1:]:
        if cur is None:
            return None
        if type(step) is int:
            lst = cur.get("L")
            if lst is None or step >= len(lst):
                return None
            cur = lst[step]
        else:
            m = cur.get("M")
            if m is None:
                return None
            cur = m.get(step)
    return cur


def path_getter(path: tuple) -> Getter:
    if len(path) == 1:
        name = path[0]

        def top(item: dict) -> AV | None:
            return item.get(name)

        return top

    def nested(item: dict) -> AV | None:
        return get_path(item, path)

    return nested


def project(item: dict, paths: list[tuple]) -> dict:
    """Keep only ``paths`` of ``item``, with the structure around them.

    ``a.b[1].c`` keeps map ``a`` with key ``b`` holding a list of the one element
    (a map reduced to ``c``). Several indexes of one list come back compacted in
    index order; a path that does not resolve contributes nothing.
    """
    tree: dict = {}
    for path in paths:
        node = tree
        for step in path[:-1]:
            child = node.get(step)
            if child is None or child is True:
                child = node[step] = {}
            node = child
        node[path[-1]] = True
    out: dict = {}
    for name, sub in tree.items():
        value = item.get(name)
        if value is None:
            continue
        picked = value if sub is True else _pick(value, sub)
        if picked is not None:
            out[name] = picked
    return out


def _pick(value: AV, tree: dict) -> AV | None:
    m = value.get("M")
    if m is not None:
        out = {}
        for key, sub in tree.items():
            if type(key) is int or key not in m:
                continue
            picked = m[key] if sub is True else _pick(m[key], sub)
            if picked is not None:
                out[key] = picked
        return {"M": out} if out else None
    lst = value.get("L")
    if lst is not None:
        items = []
        for index in sorted(k for k in tree if type(k) is int):
            if index < len(lst):
                sub = tree[index]
                picked = lst[index] if sub is True else _pick(lst[index], sub)
                if picked is not None:
                    items.append(picked)
        return {"L": items} if items else None
    return None
