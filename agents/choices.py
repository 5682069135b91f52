"""The vocabulary of agents, without the database (the pure selection rules read it)."""

from accounts.choices import LabeledChoices


class AgentStatus(LabeledChoices):
    DRAFT = "draft", "Draft"  # prepared, served to its QA overrides only (SPEC §6b)
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped"


class Allocation(LabeledChoices):
    """How new visitors are shared among an agent's variations (SPEC §4e)."""

    FIXED = "fixed", "Fixed: by the variations' weights"
    ADAPTIVE = "adaptive", "Adaptive: toward the best variation, recomputed each period"
