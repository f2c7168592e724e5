from __future__ import annotations

import gc
import os

from django.core.wsgi import get_wsgi_application

# Young collections every 20,000 allocations instead of CPython's 700: a list page builds some 500 model
# instances and a full collection walked every object loaded at start-up, up to 100 ms on one request in
# ten (bench/RESULTS.md, P5).
GC_THRESHOLDS = (20_000, 20, 20)


def tune_garbage_collection() -> None:
    """Keep what start-up loaded (modules, settings, URLconf) out of every collection; collect less often."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()
tune_garbage_collection()
