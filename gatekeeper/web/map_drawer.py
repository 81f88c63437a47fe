"""The gallery map, drawn on a background thread when asked for and kept until the gallery's
generation moves: a page view never waits for it, and ten views start one drawing."""

from __future__ import annotations

import logging
import threading

from gatekeeper.app import App
from gatekeeper.services.gallery_map import GalleryMap, current_generation, draw_gallery_map

log = logging.getLogger(__name__)


class MapDrawer:
    def __init__(self) -> None:
        self._map: GalleryMap | None = None
        self._drawing = False
        self._lock = threading.Lock()
        self.failure: str | None = None

    def current(self, gk: App) -> GalleryMap | None:
        """The map of the gallery as it is now, or None while it is being drawn."""
        generation = current_generation(gk.sessions)
        with self._lock:
            if self._map is not None and self._map.generation == generation:
                return self._map
            if not self._drawing:
                self._drawing = True
                threading.Thread(target=self._draw, args=(gk,), name="gallery-map", daemon=True).start()
        return None

    def _draw(self, gk: App) -> None:
        try:
            drawn = draw_gallery_map(gk.sessions, gk.codec, gk.pipeline.encoder.version)
            with self._lock:
                self._map, self.failure = drawn, None
        except Exception as exc:  # shown on the page; the next view tries again
            log.exception("gallery map not drawn")
            self.failure = f"{type(exc).__name__}: {exc}"
        finally:
            with self._lock:
                self._drawing = False
