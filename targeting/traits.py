"""The request's traits (SPEC §4): `group:value,group:value`, each part 1 to 64 of
`[A-Za-z0-9_-]`, echoed and read by conditions as `cust/group:value`."""

import re

_PART = r"[A-Za-z0-9_-]{1,64}"
_TRAIT_PART = re.compile(_PART + r"\Z")
# the whole of a traits string (empty: none), as the schema states it
TRAITS_RE = rf"^({_PART}:{_PART}(,{_PART}:{_PART})*)?\Z"
TRAITS_RULE = (
    "traits must be group:value pairs separated by commas, each part 1 to 64 "
    "letters, digits, _ or -."
)


def traits_parse(raw: str) -> tuple[str, ...] | None:
    """Parse `group:value,group:value`; return the traits as `cust/group:value`, or None."""
    if raw == "":
        return ()
    traits = []
    for part in raw.split(","):
        group, sep, value = part.partition(":")
        if not sep or not _TRAIT_PART.match(group) or not _TRAIT_PART.match(value):
            return None
        traits.append(f"cust/{group}:{value}")
    return tuple(dict.fromkeys(traits))
