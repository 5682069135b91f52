"""Settings of the durable goal's floor server: the product's, with its bench-only URLconf."""

from conductrics_admin.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor_durable_urls"
