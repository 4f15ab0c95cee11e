"""``runwatch.Api()``: the public read API, in wandb's shape, over the local store."""

from runwatch.api.public import Api, Project, Run, Runs

__all__ = ["Api", "Project", "Run", "Runs"]
