"""The block library on disk, and students assembled from it (SPEC §5b, §5c).

A library folder holds one teacher's distilled stage modules under one distillation setting
(its ``distill_id``, the id :func:`blox_train.blockwise.distill_settings` hashes). It is written
concurrently by several distillation shards (one per teacher x stage, or a chunk of blocks), so
there is no shared index: every (stage, block, snapshot epoch) is a file of its own::

    LIBRARY/stage{s}/block{b:02d}/epoch{e:03d}.pt     torch.save of the stage's state_dict
    LIBRARY/stage{s}/block{b:02d}/epoch{e:03d}.json   its record: format, version, stage, block,
                                                      epoch, sha256 of the .pt, teacher, distill_id

Both files are written atomically, the record last, so a record always describes a complete
weights file. The teacher part of a record is ``{model, block_ids, width, resolution,
num_classes, recipe_id}``. The relative path and the sha256 are also what the blockwise store
records (``library_file``, ``library_sha256``). :func:`open_library` reads the records; weights
are loaded with ``weights_only=True`` after their sha256 is checked.

The in-memory results of :func:`blox_train.distill_stage` (:class:`DistillResult`,
:class:`BlockLibrary`) are :mod:`blox_train.distilled`'s; :func:`assemble_student` takes either.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import blox_space as bs
import torch
from blox_space import NUM_BLOCKS, NUM_STAGES, ArchLike

from .distilled import BlockLibrary, DistillResult, load_block_library, save_block_library
from .errors import ConfigError, LibraryError
from .network import SCALING, BloxNet, Stage, build_model

__all__ = [
    "BlockLibrary",
    "DistillResult",
    "LIBRARY_TEACHER_KEYS",
    "Library",
    "LibraryEntry",
    "assemble_student",
    "library_teacher",
    "load_block_library",
    "open_library",
    "save_block_library",
    "save_library_block",
]

#: Format tag and version of a library record (the ``.json`` next to each weights file).
RECORD_FORMAT, RECORD_VERSION = "blox-library-block", 1
#: The teacher fields a library record keeps: what a student must match to use the blocks.
LIBRARY_TEACHER_KEYS = ("model", "block_ids", "width", "resolution", "num_classes", "recipe_id")
_RECORD = re.compile(r"stage(\d)/block(\d\d)/epoch(\d\d\d)\.json")


def library_teacher(teacher: Mapping[str, object]) -> dict[str, object]:
    """The teacher fields a library record keeps (:data:`LIBRARY_TEACHER_KEYS`), normalised.

    Args:
        teacher: a teacher record (e.g. the blockwise store's ``teacher`` attribute) holding
            at least those keys.

    Raises:
        ConfigError: a key is missing.

    Example:
        >>> library_teacher({"model": 0, "block_ids": (0, 0, 0), "width": 8, "resolution": 16,
        ...                  "num_classes": 10, "recipe_id": "abc", "name": "M1"})["block_ids"]
        [0, 0, 0]
    """
    missing = [k for k in LIBRARY_TEACHER_KEYS if k not in teacher]
    if missing:
        raise ConfigError(
            f"a teacher record needs {', '.join(LIBRARY_TEACHER_KEYS)}; missing {', '.join(missing)}"
        )
    out = {k: teacher[k] for k in LIBRARY_TEACHER_KEYS}
    out["block_ids"] = [int(b) for b in teacher["block_ids"]]  # type: ignore[union-attr]
    for key in ("model", "width", "resolution", "num_classes"):
        out[key] = int(out[key])  # type: ignore[call-overload]
    out["recipe_id"] = str(out["recipe_id"])
    return out


def _ranges(ids: Sequence[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0..2, 5"`` (``"none"`` when empty)."""
    runs: list[list[int]] = []
    for i in sorted(ids):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ", ".join(f"{a}..{b}" if b > a else f"{a}" for a, b in runs) or "none"


def _relpath(stage: int, block: int, epoch: int) -> str:
    return f"stage{stage}/block{block:02d}/epoch{epoch:03d}.pt"


def _check_position(stage: int, block: int, epoch: int) -> tuple[int, int, int]:
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (stage, block, epoch))
    if not ints or not (0 <= stage < NUM_STAGES and 0 <= block < NUM_BLOCKS and 1 <= epoch <= 999):
        raise ConfigError(
            f"a library block is stage 0..{NUM_STAGES - 1}, block 0..{NUM_BLOCKS - 1}, epoch 1..999; "
            f"got stage {stage!r}, block {block!r}, epoch {epoch!r}"
        )
    return stage, block, epoch


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def save_library_block(
    library: str | Path,
    stage: int,
    block: int,
    epoch: int,
    state: Mapping[str, torch.Tensor],
    *,
    teacher: Mapping[str, object],
    distill_id: str,
) -> tuple[str, str]:
    """Save one distilled stage module at one snapshot epoch into a library folder.

    The weights go to ``stage{s}/block{b:02d}/epoch{e:03d}.pt`` (plain CPU tensors), then the
    record next to it; both atomically, so a concurrent reader never sees half a block. Saving
    the same block again replaces it.

    Args:
        library: the library folder (created if missing).
        stage, block, epoch: where the block belongs (epochs count from 1).
        state: the stage module's ``state_dict``.
        teacher: the teacher's record (at least :data:`LIBRARY_TEACHER_KEYS`).
        distill_id: id of the distillation setting.

    Returns:
        ``(relative path of the .pt, its sha256 hex digest)``.

    Raises:
        ConfigError: a position out of range or a teacher record without the needed keys.

    Example:
        >>> import tempfile
        >>> teacher = {"model": 0, "block_ids": [0, 0, 0], "width": 4, "resolution": 8,
        ...            "num_classes": 10, "recipe_id": "abc"}
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path, sha = save_library_block(tmp, 0, 3, 10, Stage(3, 4).state_dict(),
        ...                                    teacher=teacher, distill_id="d1")
        ...     library = open_library(tmp)
        ...     path, library.epochs(0, 3), sorted(library.state(0, 3))[:2]
        ('stage0/block03/epoch010.pt', (10,), ['cell.ops.0.0.0.bias', 'cell.ops.0.0.0.weight'])
    """
    stage, block, epoch = _check_position(stage, block, epoch)
    record_teacher = library_teacher(teacher)
    relpath = _relpath(stage, block, epoch)
    path = Path(library) / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    # contiguous: a file's bytes do not depend on the memory format the block was trained in
    torch.save({k: v.detach().to("cpu", copy=True).contiguous() for k, v in state.items()}, buffer)
    data = buffer.getvalue()
    sha256 = hashlib.sha256(data).hexdigest()
    _atomic_write(path, data)
    record = {
        "format": RECORD_FORMAT, "version": RECORD_VERSION, "stage": stage, "block": block, "epoch": epoch,
        "file": relpath, "sha256": sha256, "teacher": record_teacher, "distill_id": str(distill_id),
    }  # fmt: skip
    _atomic_write(path.with_suffix(".json"), (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
    return relpath, sha256


@dataclass(frozen=True)
class LibraryEntry:
    """One saved block: where it belongs and its file.

    Attributes:
        stage, block, epoch: the distilled stage module's position and snapshot epoch.
        file: path of the weights relative to the library folder.
        sha256: hex digest of the weights file.
    """

    stage: int
    block: int
    epoch: int
    file: str
    sha256: str


@dataclass(frozen=True)
class Library:
    """A block library folder, as :func:`open_library` read it.

    Attributes:
        path: the folder.
        teacher: the teacher fields of its records (:data:`LIBRARY_TEACHER_KEYS`).
        distill_id: id of the distillation setting all its blocks share.
        entries: every saved block, sorted by (stage, block, epoch).
    """

    path: Path
    teacher: dict[str, object]
    distill_id: str
    entries: tuple[LibraryEntry, ...]

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def last_epoch(self) -> int:
        """The latest snapshot epoch any block has: the default of :meth:`state`."""
        return max(e.epoch for e in self.entries)

    def stages(self) -> tuple[int, ...]:
        """The stages with at least one block."""
        return tuple(sorted({e.stage for e in self.entries}))

    def blocks(self, stage: int) -> tuple[int, ...]:
        """The blocks saved at ``stage`` (any epoch)."""
        return tuple(sorted({e.block for e in self.entries if e.stage == stage}))

    def epochs(self, stage: int, block: int) -> tuple[int, ...]:
        """The snapshot epochs saved for (stage, block); empty when it is not in the library."""
        return tuple(e.epoch for e in self.entries if (e.stage, e.block) == (stage, block))

    def entry(self, stage: int, block: int, epoch: int | None = None) -> LibraryEntry:
        """The saved block at ``epoch`` (default :attr:`last_epoch`).

        Raises:
            ConfigError: the library does not hold it; the message says what it holds.
        """
        epoch = self.last_epoch if epoch is None else epoch
        for e in self.entries:
            if (e.stage, e.block, e.epoch) == (stage, block, epoch):
                return e
        held = self.epochs(stage, block)
        if held:
            raise ConfigError(
                f"block library {self.path}: stage {stage} block {block} has snapshot epochs "
                f"{list(held)}, not {epoch}"
            )
        raise ConfigError(
            f"block library {self.path} holds no block {block} at stage {stage}; it holds blocks "
            f"{_ranges(self.blocks(stage))} there"
        )

    def state(self, stage: int, block: int, epoch: int | None = None) -> dict[str, torch.Tensor]:
        """The saved ``state_dict`` of (stage, block) at ``epoch`` (default :attr:`last_epoch`),
        after checking its sha256 against the record.

        Raises:
            ConfigError: not in the library.
            LibraryError: the file is missing, damaged or not a state dict.
        """
        entry = self.entry(stage, block, epoch)
        path = self.path / entry.file
        try:
            data = path.read_bytes()
        except OSError as err:
            raise LibraryError(
                f"block library file {path} cannot be read ({err.strerror}); distill it again"
            ) from None
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry.sha256:
            raise LibraryError(
                f"block library file {path} is damaged: sha256 {digest[:16]}... differs from its record "
                f"{entry.sha256[:16]}...; distill it again"
            )
        try:
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any unreadable file is the same user-facing problem
            raise LibraryError(
                f"block library file {path} is not a saved state dict ({type(err).__name__})"
            ) from None
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise LibraryError(f"block library file {path} is not a saved state dict")
        return state

    def module(self, stage: int, block: int, epoch: int | None = None) -> Stage:
        """The saved stage module (a new :class:`~blox_train.network.Stage`, eval mode)."""
        module = Stage(block, int(self.teacher["width"]) * SCALING**stage)  # type: ignore[call-overload]
        module.load_state_dict(self.state(stage, block, epoch))
        return module.eval()

    def verify(self) -> int:
        """Read every weights file and check its sha256; the number of files checked.

        Raises:
            LibraryError: the first missing or damaged file.
        """
        for e in self.entries:
            self.state(e.stage, e.block, e.epoch)
        return len(self.entries)


def _read_record(root: Path, path: Path) -> dict:
    name = path.relative_to(root).as_posix()
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise LibraryError(f"block library record {path} cannot be read ({type(err).__name__})") from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise LibraryError(f"{path} is not a block library record")
    if record.get("version") != RECORD_VERSION:
        raise LibraryError(
            f"{path}: block library record version {record.get('version')!r}; this blox-train reads {RECORD_VERSION}"
        )
    match = _RECORD.fullmatch(name)
    where = tuple(int(g) for g in match.groups()) if match else None
    try:
        fields = (record["stage"], record["block"], record["epoch"])
        valid = where == fields and record["file"] == _relpath(*fields) and isinstance(record["sha256"], str)
        library_teacher(record["teacher"])
    except (KeyError, TypeError, ValueError, ConfigError):
        valid = False
    if not valid:
        raise LibraryError(
            f"block library record {path} is malformed or does not match its place in the folder"
        )
    return record


def open_library(path: str | Path) -> Library:
    """Read a block library folder's records (the weights are read only when asked for).

    Args:
        path: the library folder.

    Returns:
        A :class:`Library`.

    Raises:
        LibraryError: no such folder, no records in it, or a record that cannot be read.
        ConfigError: records of more than one teacher or distillation setting (named).
    """
    root = Path(path)
    if not root.is_dir():
        raise LibraryError(f"block library {root} does not exist (make one with blox-train distill)")
    records = [_read_record(root, p) for p in sorted(root.glob("stage*/block*/epoch*.json"))]
    if not records:
        raise LibraryError(f"{root} holds no block library records (stage*/block*/epoch*.json)")
    for key, what in (("teacher", "teachers"), ("distill_id", "distillation settings")):
        seen: dict[str, str] = {}
        for record in records:
            seen.setdefault(json.dumps(record[key], sort_keys=True), record["file"])
        if len(seen) > 1:
            shown = "; ".join(f"{value} (e.g. {file})" for value, file in list(seen.items())[:3])
            raise ConfigError(f"block library {root} mixes {len(seen)} {what}: {shown}; use one folder each")
    entries = tuple(
        LibraryEntry(r["stage"], r["block"], r["epoch"], r["file"], r["sha256"])
        for r in sorted(records, key=lambda r: (r["stage"], r["block"], r["epoch"]))
    )
    return Library(root, library_teacher(records[0]["teacher"]), str(records[0]["distill_id"]), entries)


def _geometry(teacher: BloxNet) -> tuple[tuple[int, ...], int, int, int]:
    return tuple(teacher.block_ids), teacher.width, teacher.resolution, teacher.num_classes


def _describe(geometry: Sequence) -> str:
    blocks, width, resolution, classes = geometry
    return f"blocks {tuple(blocks)}, width {width}, resolution {resolution}, {classes} classes"


def assemble_student(
    teacher: BloxNet,
    library: Library | BlockLibrary | DistillResult | Sequence[DistillResult],
    arch: ArchLike,
    *,
    epoch: int | None = None,
) -> BloxNet:
    """A student: the teacher's stem and classifier with distilled stage modules.

    From a :class:`Library` (a folder from :func:`open_library`) every stage comes from the
    library at snapshot ``epoch`` (default: :attr:`Library.last_epoch`). From an in-memory
    :class:`BlockLibrary` (or its results), a stage whose block equals the teacher's and that
    the library does not hold keeps a copy of the teacher's stage. The stem and classifier
    tensors are the teacher's, copied bit for bit; nothing is shared with the teacher.

    Args:
        teacher: the teacher the library was distilled from.
        library: a :class:`Library`, or a :class:`BlockLibrary` (or its results).
        arch: the student's architecture (any form blox-space accepts).
        epoch: the snapshot epoch (a :class:`Library` only).

    Returns:
        A new :class:`BloxNet` (eval mode, on the teacher's device) with the student's block ids.

    Raises:
        ConfigError: the library belongs to another teacher (block ids, width, resolution or
            classes differ), lacks a needed block or epoch, or ``epoch`` was given with an
            in-memory library.
        LibraryError: a needed library file is missing or damaged.
        blox_space.InvalidArchitectureError: ``arch`` is not an architecture.
    """
    ids = bs.to_blocks(arch)
    if isinstance(library, Library):
        theirs = (
            tuple(library.teacher["block_ids"]),  # type: ignore[arg-type]
            library.teacher["width"], library.teacher["resolution"], library.teacher["num_classes"],
        )  # fmt: skip
        states = None
    else:
        if epoch is not None:
            raise ConfigError(
                "epoch= selects a snapshot of a block library folder (open_library), not of results"
            )
        library = library if isinstance(library, BlockLibrary) else BlockLibrary(
            (library,) if isinstance(library, DistillResult) else tuple(library)
        )  # fmt: skip
        first = library.results[0]
        theirs = (first.teacher_block_ids, first.width, first.resolution, first.num_classes)
        states = {r.stage: r for r in library.results}
    if _geometry(teacher) != theirs:
        where = f"block library {library.path}" if isinstance(library, Library) else "the block library"
        raise ConfigError(
            f"{where} was distilled from teacher {_describe(theirs)}, not {_describe(_geometry(teacher))}"
        )
    student = build_model(
        ids, num_classes=teacher.num_classes, width=teacher.width, resolution=teacher.resolution
    )
    student.stem.load_state_dict(teacher.stem.state_dict())
    student.classifier.load_state_dict(teacher.classifier.state_dict())
    for s, block in enumerate(ids):
        if states is None:
            student.stages[s].load_state_dict(library.state(s, block, epoch))  # type: ignore[union-attr]
        elif s in states and block in states[s].block_ids:
            student.stages[s].load_state_dict(states[s].states[states[s].block_ids.index(block)])
        elif block == teacher.block_ids[s]:
            student.stages[s].load_state_dict(teacher.stages[s].state_dict())
        else:
            available = list(states[s].block_ids) if s in states else []
            raise ConfigError(
                f"block {block} at stage {s} is not in the block library; it holds {available} there"
            )
    return student.to(next(teacher.parameters()).device).eval()
