"""Run ids and readable default names."""

from __future__ import annotations

import random
import re
import secrets
import string

from runwatch.errors import UsageError

_ALPHABET = string.ascii_lowercase + string.digits
_ADJECTIVES = (
    "amber", "bold", "brisk", "calm", "clever", "crisp", "daring", "eager", "fancy", "gentle",
    "glad", "golden", "grand", "happy", "hardy", "keen", "lively", "lucky", "mellow", "merry",
    "misty", "noble", "polar", "proud", "quiet", "rapid", "royal", "rustic", "serene", "sharp",
    "silent", "smooth", "solar", "steady", "sunny", "swift", "tidy", "vivid", "warm", "wild",
)
_NOUNS = (
    "aurora", "badger", "breeze", "brook", "canyon", "cedar", "comet", "coral", "dawn", "delta",
    "dune", "ember", "falcon", "fern", "fjord", "forest", "glade", "grove", "harbor", "heron",
    "lake", "lynx", "maple", "meadow", "mesa", "moon", "otter", "pine", "planet", "prairie",
    "raven", "reef", "river", "sky", "sparrow", "star", "summit", "sweep", "tide", "wave",
)
# Commas separate run ids in the dashboard's URLs and the series API (runs=a,b).
_BAD_ID = re.compile(r"[/\\#?%:,\s\x00]")
_BAD_PROJECT = re.compile(r"[/\\#?%:\x00]")


def new_run_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


def new_run_name() -> str:
    rng = random.Random(secrets.randbits(32))
    return f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}-{rng.randint(1, 999)}"


def check_run_id(run_id: object) -> str:
    if not isinstance(run_id, str) or not run_id:
        raise UsageError(f"Run id must be a non-empty string, got {run_id!r}.")
    if len(run_id) > 64 or _BAD_ID.search(run_id) or run_id in (".", ".."):
        raise UsageError(
            f"Run id {run_id!r} is not allowed: use at most 64 characters, none of "
            "'/ \\ # ? % : ,' or whitespace, and not '.' or '..'."
        )
    return run_id


def check_project(project: object) -> str:
    if not isinstance(project, str) or not project.strip():
        raise UsageError(f"Project must be a non-empty string, got {project!r}.")
    if len(project) > 128 or _BAD_PROJECT.search(project):
        raise UsageError(
            f"Project name {project!r} is not allowed: use at most 128 characters and none of "
            "'/ \\ # ? % :'. Pass the entity separately: init(entity=..., project=...)."
        )
    return project
