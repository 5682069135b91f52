"""The vocabulary of agents, without the database (the pure selection rules read it)."""

from accounts.choices import LabeledChoices


class AgentStatus(LabeledChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped"
