"""The vocabulary of goals, without the database (the pure matching rules read it)."""

from accounts.choices import LabeledChoices


class GoalTrigger(LabeledChoices):
    PAGE_EVENT = "page_event", "Page events (Express-style trigger)"
    API = "api", "Programmatically, via API"


class GoalAcceptedFrom(LabeledChoices):
    """Where a goal's events may come from (SPEC §4): a `server` goal is refused on an
    Express target, whose key is public (a page could forge or pre-empt a purchase)."""

    ANY = "any", "Any target (pages and servers)"
    SERVER = "server", "Servers only (REST targets)"


class GoalCounting(LabeledChoices):
    ONCE = "once", "Once per visitor per agent"
    EVERY = "every", "Every event (values add up)"
