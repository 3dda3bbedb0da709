"""blox-search: conventional and blockwise NAS over the Blox space with one cost model.

Not built yet: this package currently only reserves its name and dependencies.
"""

__version__ = "0.1.0"
__all__: list[str] = []
