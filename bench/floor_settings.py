"""Settings of the floor server: the product's, with the bench-only URLconf."""

from conductrics_admin.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor_urls"
