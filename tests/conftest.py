"""Settings every test process shares (inherited by the ``tk9 serve`` processes tests start).

* ``TK9_MODELS_DIR``: one cache of the built embedding model for the whole run, so each fresh
  data directory does not build the ONNX graph again (16 s each on two busy cores).
* ``TK9_EMBED_BUDGET``: a test server on the offline wiki would otherwise spend up to 90 s of
  its first run embedding the corpus. Delivery, dashboard and fault tests do not measure
  retrieval, and the candidates a run judges are embedded whatever the budget; research
  quality is measured by ``bench/research_quality.py`` with the default budget.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault(
    "TK9_MODELS_DIR", str(Path(__file__).resolve().parent.parent / ".cache" / "models")
)
os.environ.setdefault("TK9_EMBED_BUDGET", "2")
