"""Static files as served: the product's own JavaScript minified, then compressed.

`collectstatic` copies the readable sources of `static/` to STATIC_ROOT; there the files
under `conductrics/` ending in `.js` (the browser client, the admin's row editor) are
minified with rjsmin (a maintained minifier that only drops comments and whitespace, so
the code that runs is the code the tests read), then WhiteNoise writes their gzip and
Brotli copies. `tests/runtime/test_local_sizes.py` measures what this serves and runs the
client's test vectors against it.
"""

from pathlib import Path
from typing import Any

import rjsmin
from whitenoise.storage import CompressedStaticFilesStorage

MINIFIED_PREFIX = "conductrics/"


class MinifiedCompressedStaticFilesStorage(CompressedStaticFilesStorage):
    def post_process(self, paths: dict[str, Any], dry_run: bool = False, **options: Any):
        if not dry_run:
            for name in paths:
                if name.startswith(MINIFIED_PREFIX) and name.endswith(".js"):
                    path = Path(self.path(name))
                    source = path.read_text(encoding="utf-8")
                    path.write_text(rjsmin.jsmin(source, keep_bang_comments=True), "utf-8")
        yield from super().post_process(paths, dry_run=dry_run, **options)
