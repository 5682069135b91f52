"""The vocabulary of agents, without the database (the pure selection rules read it)."""

from accounts.choices import LabeledChoices


class AgentStatus(LabeledChoices):
    DRAFT = "draft", "Draft"  # prepared, served to its QA overrides only (SPEC §6b)
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped"
