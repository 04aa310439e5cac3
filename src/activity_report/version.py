"""The release: one module of its own, so that what records it imports nothing else."""

__version__ = "0.2.0"
