"""The vocabulary of deploy targets, without the database (the pure matching rules read it)."""

from accounts.choices import LabeledChoices


class TargetKind(LabeledChoices):
    EXPRESS = "express", "Express / JS API (in the browser)"
    REST = "rest", "REST API (server-side)"


class Channel(LabeledChoices):
    """Where a selection or goal event happened, by the kind of target it came through."""

    CLIENT = "client", "Client-side (Express / JS)"
    SERVER = "server", "Server-side (REST API)"


def channel_of(kind: str) -> Channel:
    """The channel of a request that came through a target of `kind`."""
    return Channel.CLIENT if kind == TargetKind.EXPRESS else Channel.SERVER
