"""Draws docs/python-plot.png, the plot docs/python.md shows: run it from the checkout's root."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import activity_report as ar

r = ar.report(
    "sample_data/events.parquet",
    users="sample_data/users.csv",
    start="2022-08-01",
    end="2022-09-01",
    category="ide",
    interval="1 day",
)
df = r.to_pandas()
df["hours"] = df["duration"].dt.total_seconds() / 3600
per_day = df.groupby("time").agg(users=("user_id", "nunique"), hours=("hours", "sum"))
axes = per_day.plot(subplots=True, figsize=(8, 4), title="IDE use per day, August 2022")
axes[0].figure.savefig("docs/python-plot.png", dpi=80, bbox_inches="tight")
