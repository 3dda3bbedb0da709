"""Type aliases shared by blox-space modules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import numpy as np

#: Any user-facing form of one architecture: model index, block-id triple, arch vector
#: (nested or flat), 32-hex hash, readable name, or arch-vector / block-id JSON text.
ArchLike = Union[int, np.integer, str, Sequence[int], Sequence[Sequence[Sequence[int]]], np.ndarray]
