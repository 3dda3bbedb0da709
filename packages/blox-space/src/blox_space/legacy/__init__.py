"""Released Blox files (facts §5): importing them into a benchmark store
(``blox-space import-legacy``), exporting a store back to the ``.csv`` form
(``blox-space export-csv``), and the readers and codecs of the three file formats."""

from __future__ import annotations

from ._files import FAMILY_COLUMNS, LegacyFile, find_legacy_files, read_legacy_file
from .export import export_csv
from .importer import LEGACY_CONFIG_ID, import_legacy

__all__ = [
    "FAMILY_COLUMNS",
    "LEGACY_CONFIG_ID",
    "LegacyFile",
    "export_csv",
    "find_legacy_files",
    "import_legacy",
    "read_legacy_file",
]
