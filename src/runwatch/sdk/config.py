"""``run.config``: wandb's dict with attribute access and guarded changes."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from runwatch.errors import ConfigError, UsageError

OnChange = Callable[[dict[str, Any]], None]


def as_mapping(value: Any) -> dict[str, Any]:
    """Config input as a plain dict: a mapping, an argparse Namespace, absl-like flags,
    or a path to a YAML file."""
    if value is None:
        return {}
    if isinstance(value, Config):
        return value.as_dict()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, argparse.Namespace):
        return dict(vars(value))
    if isinstance(value, str):
        try:
            import yaml
        except ImportError:
            raise UsageError(f"config={value!r} is a YAML path but PyYAML is not installed; "
                             "pip install pyyaml or pass a dict.") from None
        try:
            with open(value, encoding="utf-8") as fh:
                loaded = yaml.safe_load(fh) or {}
        except OSError as exc:
            raise UsageError(f"Cannot read config file {value!r}: {exc}.") from exc
        if not isinstance(loaded, Mapping):
            raise UsageError(f"Config file {value!r} does not hold a mapping.")
        return dict(loaded)
    if hasattr(value, "flag_values_dict"):  # absl FLAGS
        return dict(value.flag_values_dict())
    if hasattr(value, "__dict__"):
        return {k: v for k, v in vars(value).items() if not k.startswith("_")}
    raise UsageError(f"Config must be a dict, argparse.Namespace or YAML path, got "
                     f"{type(value).__name__}: {value!r}.")


def _clean_key(key: object) -> str:
    if not isinstance(key, str):
        key = str(key)
    key = key.strip("-")
    if not key:
        raise UsageError("Config keys must not be empty.")
    return key


class Config:
    """Dict-like with attribute access. Changing an existing key to another value
    raises :class:`ConfigError` unless ``allow_val_change=True``."""

    def __init__(self, on_change: OnChange | None = None) -> None:
        object.__setattr__(self, "_items", {})
        object.__setattr__(self, "_on_change", on_change)
        object.__setattr__(self, "_locked", False)

    # -- writing --
    def update(self, d: Any = None, allow_val_change: bool | None = None, **kwargs: Any) -> None:
        values = as_mapping(d)
        values.update(kwargs)
        self._set_many(values, bool(allow_val_change))

    def setdefaults(self, d: Mapping[str, Any]) -> None:
        self._set_many({k: v for k, v in as_mapping(d).items() if _clean_key(k) not in self._items},
                       False)

    def _set_many(self, values: Mapping[str, Any], allow_val_change: bool) -> None:
        changes: dict[str, Any] = {}
        for raw_key, value in values.items():
            key = _clean_key(raw_key)
            if isinstance(value, Config):
                value = value.as_dict()
            if key in self._items and not allow_val_change and not _same(self._items[key], value):
                raise ConfigError(
                    f"Attempted to change value of key {key!r} from {self._items[key]!r} to "
                    f"{value!r}. If you really want to do this, pass allow_val_change=True to "
                    "config.update()."
                )
            if key not in self._items or not _same(self._items[key], value):
                changes[key] = value
        if not changes:
            return
        self._items.update(changes)
        if self._on_change is not None:
            self._on_change(changes)

    def __setitem__(self, key: str, value: Any) -> None:
        self._set_many({key: value}, False)

    def __setattr__(self, key: str, value: Any) -> None:
        self._set_many({key: value}, False)

    def __delitem__(self, key: str) -> None:
        raise ConfigError(f"Config keys cannot be deleted (tried {key!r}).")

    # -- reading --
    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self._items[key]
        except KeyError:
            raise AttributeError(f"config has no key {key!r}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def keys(self) -> list[str]:
        return list(self._items)

    def items(self) -> list[tuple[str, Any]]:
        return [(k, v) for k, v in self._items.items() if not k.startswith("_")]

    def values(self) -> list[Any]:
        return [v for _k, v in self.items()]

    def as_dict(self) -> dict[str, Any]:
        return dict(self._items)

    def __repr__(self) -> str:
        return f"Config({self._items!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Config):
            return self._items == other._items
        if isinstance(other, Mapping):
            return self._items == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def _same(a: Any, b: Any) -> bool:
    try:
        return a is b or bool(a == b)
    except Exception:  # numpy arrays and other values without a plain ==
        return a is b
