"""The server: a FastAPI app over the store's query layer, plus the web UI's files.

``server`` never imports ``sdk``: it reads what runs wrote, through ``store``.
"""

from runwatch.server.app import create_app

__all__ = ["create_app"]
