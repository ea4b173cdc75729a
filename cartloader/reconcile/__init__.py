"""Finding and archiving the duplicates an outcome log flags, and settling the log (docs/duplicates.md).

Modules, one job each: ``inputs`` (the meta file and the input read again), ``logindex`` (the log on disk, indexed),
``client`` (search, batch archive, property types), ``rules`` (which objects are provably surplus copies),
``applying`` (archiving, settling the log, the report file), ``summary``, and ``run`` (``reconcile()``).
"""

from cartloader.reconcile.run import reconcile
from cartloader.reconcile.summary import ReconcileSummary

__all__ = ["ReconcileSummary", "reconcile"]
