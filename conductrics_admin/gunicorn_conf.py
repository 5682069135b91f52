"""gunicorn's configuration for this app: `gunicorn -c python:conductrics_admin.gunicorn_conf`.

With PROMETHEUS_MULTIPROC_DIR set, a worker that exits has its metric files marked dead,
so that /metrics keeps its counts but drops its live gauges.
"""

import os


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
