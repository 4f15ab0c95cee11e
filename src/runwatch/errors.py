"""The exception and warning tree, in one place."""

from __future__ import annotations


class RunwatchError(Exception):
    """Base of every error runwatch raises."""


class UsageError(RunwatchError, ValueError):
    """The caller asked for something that cannot be done; the message says what to change."""


class ConfigError(RunwatchError):
    """A config key was changed without ``allow_val_change=True`` (wandb's ConfigError)."""


class RunNotFoundError(RunwatchError, LookupError):
    """A run or project path names nothing in the store."""


class StoreError(RunwatchError):
    """The store cannot be opened, migrated or written."""


class SeqGapError(StoreError):
    """A batch arrived ahead of one that was never applied; the sender must resend from the gap."""


class RunIdTakenError(StoreError):
    """A batch starts a run whose id another run (created at another time) already holds."""


class RunwatchWarning(UserWarning):
    """Bad input or a background failure that runwatch survived; nothing already logged is lost."""
