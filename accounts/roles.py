"""Roles of an account's members, and of its admin keys (SPEC §6b).

`viewer` reads everything of the account and changes nothing; `editor` also changes
agents, goals, groups, QA overrides, imports and replays; `owner` also changes deploy
targets, keys, memberships and the account's settings (raw data erasure included). An
admin key is `read` (a viewer) or `write` (an owner). The admin and the management API ask
the same question, `role_refusal`, and answer a refusal with the same sentence.
"""

from accounts.choices import LabeledChoices


class Role(LabeledChoices):
    VIEWER = "viewer", "Viewer (reads everything, changes nothing)"
    EDITOR = "editor", "Editor (agents, goals, groups, imports, replays)"
    OWNER = "owner", "Owner (also deploy targets, keys, members, settings)"


class KeyScope(LabeledChoices):
    READ = "read", "Read (a viewer)"
    WRITE = "write", "Write (an owner)"


_RANK: dict[str, int] = {Role.VIEWER: 0, Role.EDITOR: 1, Role.OWNER: 2}
KEY_ROLES: dict[str, str] = {KeyScope.READ: Role.VIEWER, KeyScope.WRITE: Role.OWNER}
NEW_MEMBER_ROLE = Role.EDITOR


def role_allows(role: str | None, needed: str) -> bool:
    """Whether `role` (None: no membership) may do what needs `needed`."""
    return role is not None and _RANK[role] >= _RANK[needed]


def role_refusal(role: str | None, needed: str, *, account_code: str, key: bool = False) -> str:
    """The sentence of a refusal: the role needed, and the caller's."""
    if key:
        return (
            f"This needs the {needed} role in {account_code}: this admin key is read-only "
            "(scope read). Use a key of scope write."
        )
    return f"This needs the {needed} role in {account_code}; you are {_a(role)}."


def _a(role: str | None) -> str:
    if role is None:
        return "not a member"
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"
