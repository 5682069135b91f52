"""Bench-only URLconf of the durable goal's floor (bench/floor_urls.py)."""

from bench.floor_urls import durable_urlpatterns as urlpatterns  # noqa: F401
