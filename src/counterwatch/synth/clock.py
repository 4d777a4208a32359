"""Timestamps relative to the fixed reference date (whole seconds, UTC), as Polars series."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl

DAY = 86_400


def seconds_before(ref: datetime, seconds: np.ndarray) -> pl.Series:
    """``ref`` minus ``seconds`` (integers), as a UTC datetime series."""
    base = np.datetime64(ref.replace(tzinfo=None), "us")
    values = base - (seconds.astype(np.int64) * 1_000_000).astype("timedelta64[us]")
    return pl.Series(values).dt.replace_time_zone("UTC")


def days_before(rng: np.random.Generator, n: int, min_days: float, max_days: float) -> np.ndarray:
    """Uniform whole seconds between ``min_days`` and ``max_days`` before the reference date."""
    return (rng.uniform(min_days, max_days, n) * DAY).astype(np.int64)
