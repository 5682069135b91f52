"""The vocabulary of goals, without the database (the pure matching rules read it)."""

from accounts.choices import LabeledChoices


class GoalTrigger(LabeledChoices):
    PAGE_EVENT = "page_event", "Page events (Express-style trigger)"
    API = "api", "Programmatically, via API"


class GoalCounting(LabeledChoices):
    ONCE = "once", "Once per visitor per agent"
    EVERY = "every", "Every event (values add up)"
