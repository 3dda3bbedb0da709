"""blox-predict: accuracy predictors for the Blox space (GCN, BRP, DONNA, LANA).

Not built yet: this package currently only reserves its name and dependencies.
"""

__version__ = "0.1.0"
__all__: list[str] = []
