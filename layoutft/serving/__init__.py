"""``layoutft serve``: an HTTP service that keeps a model loaded.

``POST /parse`` turns an uploaded PDF or image into layout JSON; Label Studio's ML backend
endpoints (``/setup``, ``/predict``, ``/health``) let Label Studio pre-label its tasks with
layoutft. :func:`create_app` builds the ASGI application around a :class:`LayoutService`
(a loaded detector, the parse options and the limits); ``layoutft serve`` runs it with
uvicorn. Needs the ``serve`` extra (``pip install 'layoutft[serve]'``). See
docs/serving.md.
"""

from __future__ import annotations

from layoutft.serving.app import LayoutService, ServeSettings, create_app
from layoutft.serving.fetch import FetchSettings

__all__ = ["FetchSettings", "LayoutService", "ServeSettings", "create_app"]
