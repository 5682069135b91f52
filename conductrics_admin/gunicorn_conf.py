"""gunicorn's configuration for this app: `gunicorn -c python:conductrics_admin.gunicorn_conf`.

With PROMETHEUS_MULTIPROC_DIR set, a worker that exits has its metric files marked dead,
so that /metrics keeps its counts but drops its live gauges. A worker that exits writes
the notes it holds (goal diagnostics, recent requests: conductrics_admin.buffers).
"""

import os


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker):
    from conductrics_admin.buffers import buffers_flush

    buffers_flush()
