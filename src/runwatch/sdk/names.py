"""Run ids and readable default names."""

from __future__ import annotations

import random
import secrets
import string

# Checked wherever a batch is made or received, so they live with the wire format.
from runwatch.records import check_project, check_run_id

__all__ = ["check_project", "check_run_id", "new_run_id", "new_run_name"]

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
def new_run_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


def new_run_name() -> str:
    rng = random.Random(secrets.randbits(32))
    return f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}-{rng.randint(1, 999)}"
