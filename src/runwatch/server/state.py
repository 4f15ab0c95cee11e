"""What every request needs: the settings, the opened store and the chunk cache."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from runwatch.settings import Settings
from runwatch.store import Store
from runwatch.store.series import ChunkCache


@dataclass
class AppState:
    settings: Settings
    store: Store
    cache: ChunkCache = field(default_factory=ChunkCache)
    # Seconds between the event stream's looks at the store (live updates).
    poll_interval: float = 0.5
    # Set on shutdown so open event streams end instead of holding the server up.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    # The API-key cache (server/auth.py) when keys are required; None: no auth.
    keys: Any = None
    # Limits the batches this process writes at once (server/ingest.py), made on first use.
    ingest_slots: Any = None


def app_state(request: Request) -> AppState:
    return request.app.state.runwatch
