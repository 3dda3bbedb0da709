"""Released-file import: the tests write small legacy files in all three formats with their own
writer (facts §5: header framing, rounding, bit packing incl. list packing and the test-column
byte rounding), import each and compare, and feed malformed files to the reader."""

from __future__ import annotations

import csv
import io
import math
import pickle
import zlib
from pathlib import Path

import blox_space
import numpy as np
import pytest
import yaml
from blox_space import LegacyFormatError, open_benchmark
from blox_space.legacy import export_csv, find_legacy_files, import_legacy, read_legacy_file
from hypothesis import given, settings
from hypothesis import strategies as st

OPS = ["conv", "mbconv", "bconv"]
BASE = ["model_hash", "val_top1", "test_top1", "train_time_s"]
EXT = [
    "model_hash",
    "train_top1",
    "train_loss",
    "train_top5",
    "val_loss",
    "val_top5",
    "test_loss",
    "test_top5",
]
INFO = ["model_hash", "params", "flops", "arch_vec"]
ENV_KEYS = [
    "codebase_commit",
    "codebase_version",
    "cuda",
    "driver",
    "gpu",
    "platform",
    "ptflops_version",
    "python",
    "torch_commit",
    "torch_cuda_version",
    "torch_version",
    "torchvision_version",
]
EPOCHS = 7
MODELS = [0, 1, 44, 2025, 24519, 91124]


# ---------------------------------------------------------------------------------------
# an independent writer of the released formats (facts §5.1-5.3)
# ---------------------------------------------------------------------------------------
def _n(column: str) -> int:
    return 45000 if "train" in column else 5000 if "val" in column else 10000


def header_text(dataset_type, columns, extras, fmt, column_types=None) -> bytes:
    stage = [1, 4]
    hdr = {
        "version": 1,
        "search_space": {"shape": [stage] * 3, "nodes": 2, "stages": 3, "ops": OPS},
        "dataset_type": dataset_type,
        "columns": columns,
        **extras,
        "format": fmt,
    }
    if column_types is not None:
        hdr["column_types"] = column_types
    return (yaml.dump(hdr, explicit_start=True, sort_keys=False) + "---\n").encode()


def make_rows(seed: int, rng: np.random.Generator):
    """Raw (unrounded) rows of base / ext / info / env for MODELS; the writers round."""
    base, ext, info, env = [], [], [], []
    for m in MODELS:
        h = blox_space.to_hash(m)
        val = [int(c) * 100 / 5000 for c in rng.integers(50, 4000, EPOCHS)]
        val[0] = max(val)  # the epoch-1 aliasing of the release
        test = int(rng.integers(100, 9000)) * 100 / 10000
        base.append([h, val, test, int(rng.integers(101, 9999))])
        tr = [int(c) * 100 / 45000 for c in rng.integers(100, 40000, EPOCHS)]
        tr5 = [int(c) * 100 / 45000 for c in rng.integers(100, 40000, EPOCHS)]
        v5 = [int(c) * 100 / 5000 for c in rng.integers(100, 5000, EPOCHS)]
        tl = [float(x) for x in rng.uniform(0.01, 4.7, EPOCHS)]
        vl = [float(x) for x in rng.uniform(0.5, 4.7, EPOCHS)]
        ext.append(
            [h, tr, tl, tr5, vl, v5, float(rng.uniform(0.5, 4)), int(rng.integers(100, 9900)) * 100 / 10000]
        )
        info.append([h, blox_space.model_params(m), blox_space.model_macs(m), blox_space.to_arch_vec(m)])
        env.append([h, *[f"{k}-{seed}" if k != "gpu" else "NVIDIA A100" for k in ENV_KEYS]])
    return {"base": base, "ext": ext, "info": info, "env": env}


def _quant_stats(column, values):
    correct = [round(v * _n(column)) // 100 for v in values]
    lo, hi = min(correct), max(correct)
    bits = max(1, (hi - lo).bit_length())
    if "test" in column:
        bits = -(-bits // 8) * 8
    return lo, hi, bits


def _pack(values, bits) -> bytes:
    acc, nbits = 0, 0
    for v in values:
        acc |= int(v) << nbits
        nbits += bits
    return acc.to_bytes(-(-nbits // 8), "little")


def _float24(x: float) -> bytes:
    v = round(round(x, 6) * 1e6)
    for fix in (0, -1, 1):
        if (v + fix) / 1e6 == round(x, 6):
            v += fix
            break
    return int(v).to_bytes(3, "little")


def blox_payload(columns, rows) -> tuple[bytes, dict[str, str]]:
    types, stats = {}, {}
    for j, column in enumerate(columns):
        sample = rows[0][j]
        if column == "model_hash":
            types[column] = "hash"
        elif column == "arch_vec":
            types[column] = "arch"
        elif "top" in column:
            flat = [x for r in rows for x in (r[j] if isinstance(r[j], list) else [r[j]])]
            stats[column] = _quant_stats(column, flat)
            t = "b_{}_{}_{}".format(*stats[column])
            types[column] = f"list[{t}]" if isinstance(sample, list) else t
        elif "loss" in column:
            types[column] = "list[float]" if isinstance(sample, list) else "float"
        elif isinstance(sample, int):
            types[column] = "int"
        else:
            types[column] = "str"
    body = bytearray(len(rows).to_bytes(4, "little"))
    for row in rows:
        for j, column in enumerate(columns):
            value, t = row[j], types[column]
            if t == "hash":
                body += int(value, 16).to_bytes(16, "little")
            elif t == "arch":
                body += bytes(
                    (((op0[0] * 3 + n1[0]) << 3) | n1[1] << 2 | n1[2] << 1 | n1[3]) for op0, n1 in value
                )
            elif t == "int":
                body += int(value).to_bytes(4, "little")
            elif t == "str":
                body += bytes([len(value)]) + value.encode("ascii")
            elif t == "float":
                body += _float24(value)
            elif t == "list[float]":
                body += bytes([len(value)]) + b"".join(_float24(x) for x in value)
            else:
                lo, _, bits = stats[column]
                vals = value if isinstance(value, list) else [value]
                packed = _pack([round(v * _n(column)) // 100 - lo for v in vals], bits)
                body += (bytes([len(vals)]) + packed) if t.startswith("list") else packed
    raw = (8 * len(body)).to_bytes(8, "little") + bytes(body)
    return zlib.compress(raw), types


def rounded(columns, rows):
    """make_datasets' rounding for pickle and csv: 3 decimals for 'top', 6 for 'loss' columns."""
    out = []
    for row in rows:
        new = []
        for column, value in zip(columns, row):
            digits = 3 if "top" in column else 6 if "loss" in column else None
            if digits is not None:
                value = [round(v, digits) for v in value] if isinstance(value, list) else round(value, digits)
            new.append(value)
        out.append(new)
    return out


def write_file(folder: Path, stem: str, fmt: str, dataset_type: str, columns, extras, rows) -> Path:
    ext = {"csv": ".csv", "pickle": ".pickle", "custom": ".blox"}[fmt]
    path = folder / f"{stem}{ext}"
    if fmt != "custom":
        rows = rounded(columns, rows)
    if fmt == "csv":
        buf = io.StringIO(newline="")
        writer = csv.writer(buf)
        for row in rows:
            writer.writerow([str(v) for v in row])
        path.write_bytes(header_text(dataset_type, columns, extras, fmt) + buf.getvalue().encode())
    elif fmt == "pickle":
        path.write_bytes(header_text(dataset_type, columns, extras, fmt) + pickle.dumps(rows))
    else:
        payload, types = blox_payload(columns, rows)
        path.write_bytes(header_text(dataset_type, columns, extras, fmt, types) + payload)
    return path


def write_release(folder: Path, fmt: str, seeds=(0, 1)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        rows = make_rows(seed, np.random.default_rng(seed))
        training = {"epochs": EPOCHS, "dataset": "cifar100"}
        write_file(
            folder,
            f"blox-base-{seed}",
            fmt,
            "training",
            BASE,
            {"seed": seed, **training, "part": "base"},
            rows["base"],
        )
        write_file(
            folder,
            f"blox-ext-{seed}",
            fmt,
            "training",
            EXT,
            {"seed": seed, **training, "part": "ext"},
            rows["ext"],
        )
        write_file(
            folder, f"blox-env-{seed}", fmt, "env", ["model_hash", *ENV_KEYS], {"seed": seed}, rows["env"]
        )
    write_file(folder, "blox-info", fmt, "static", INFO, {}, make_rows(0, np.random.default_rng(0))["info"])
    return folder


# ---------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    root = tmp_path_factory.mktemp("release")
    return {fmt: write_release(root / fmt, fmt) for fmt in ("csv", "pickle", "custom")}


@pytest.fixture(scope="module")
def imported(releases, tmp_path_factory):
    root = tmp_path_factory.mktemp("imported")
    return {fmt: import_legacy(folder, root / f"{fmt}.zarr") for fmt, folder in releases.items()}


def _arrays(path):
    import zarr

    group = zarr.open_group(str(path), mode="r")
    return {name: group[name][:] for name in group.array_keys()}, dict(group.attrs)


def test_writer_packs_like_the_facts(releases):
    header = read_legacy_file(releases["custom"] / "blox-base-0.blox").header
    types = header["column_types"]
    assert types["model_hash"] == "hash" and types["train_time_s"] == "int"
    assert types["val_top1"].startswith("list[b_")
    assert int(types["test_top1"].rsplit("_", 1)[1]) % 8 == 0  # test columns: whole bytes
    text = (releases["csv"] / "blox-base-0.csv").read_bytes()
    assert text.startswith(b"---\nversion: 1\n") and b"&id001" in text and b"\r\n" in text


def test_three_formats_import_to_identical_stores(imported):
    ref, ref_attrs = _arrays(imported["csv"])
    for fmt in ("pickle", "custom"):
        arrays, attrs = _arrays(imported[fmt])
        assert arrays.keys() == ref.keys()
        for name, values in ref.items():
            np.testing.assert_array_equal(arrays[name], values, err_msg=f"{fmt}: {name}")
        for key in (
            "recipe_id",
            "recipe",
            "dataset",
            "epochs",
            "is_partial",
            "environments",
            "val_epoch1_aliased",
        ):
            assert attrs[key] == ref_attrs[key], key


def test_imported_values_equal_the_written_rows(imported):
    bench = open_benchmark(imported["custom"])
    assert bench.seeds == [0, 1] and bench.epochs == EPOCHS and bench.dataset == "cifar100"
    assert bench.attrs["val_epoch1_aliased"] is True
    assert bench.attrs["provenance"]["epoch1_val_aliased_runs"] == len(MODELS) * 2
    for seed in (0, 1):
        rows = make_rows(seed, np.random.default_rng(seed))
        base, ext_rows = rounded(BASE, rows["base"]), rounded(EXT, rows["ext"])
        for (h, val, test, seconds), ext, info in zip(base, ext_rows, rows["info"]):
            m = blox_space.to_index(h)
            assert bench.val_acc(h, seed=seed) == np.float32(max(val))
            assert bench.val_acc(m, epoch=3, best=False, seed=seed) == np.float32(val[2])
            assert bench.test_acc(m, seed=seed) == np.float32(test)
            assert bench.train_time(m, seed=seed) == seconds
            assert bench.train_time(m, epoch=2, seed=seed) == pytest.approx(seconds * 2 / EPOCHS)
            assert bench.train_loss(m, epoch=4, seed=seed) == np.float32(ext[2][3])
            assert bench.val_top5(m, seed=seed) == np.float32(max(ext[5]))
            assert bench.test_top5(m, seed=seed) == np.float32(ext[7])
            assert bench.params(m) == info[1] and bench.flops(m) == info[2]
            assert bench.env(m, seed=seed)["codebase_commit"] == f"codebase_commit-{seed}"


def test_preferred_ext_picks_per_family(tmp_path, releases):
    import shutil

    folder = tmp_path / "mixed"
    folder.mkdir()
    for src in releases.values():
        for path in src.iterdir():
            shutil.copy(path, folder / path.name)
    (folder / "blox-base-0.blox").unlink()
    chosen = {p.name for p in find_legacy_files(folder, preferred_ext=["blox", ".csv"])}
    assert "blox-base-0.csv" in chosen and "blox-ext-0.blox" in chosen
    assert not any(name.endswith(".pickle") for name in chosen)


def test_mask_aliased_epoch1(releases, tmp_path):
    out = import_legacy(releases["pickle"], tmp_path / "m.zarr", mask_aliased_epoch1=True)
    bench = open_benchmark(out)
    assert math.isnan(bench.val_acc(0, epoch=1, best=False))
    assert bench.attrs["provenance"]["epoch1_val_masked"] is True


def test_csv_export_round_trip(releases, imported, tmp_path):
    written = export_csv(imported["custom"], tmp_path / "out")
    for path in written:
        assert path.read_bytes() == (releases["csv"] / path.name).read_bytes(), path.name
    again = import_legacy(tmp_path / "out", tmp_path / "again.zarr")
    ref, _ = _arrays(imported["csv"])
    arrays, _ = _arrays(again)
    for name, values in ref.items():
        np.testing.assert_array_equal(arrays[name], values, err_msg=name)


# ---------------------------------------------------------------------------------------
# malformed files
# ---------------------------------------------------------------------------------------
def _one_file(tmp_path, fmt="csv", columns=BASE, rows=None):
    rows = rows if rows is not None else make_rows(0, np.random.default_rng(0))["base"]
    extras = {"seed": 0, "epochs": EPOCHS, "dataset": "cifar100", "part": "base"}
    return write_file(tmp_path, "blox-base-0", fmt, "training", columns, extras, rows)


def test_bad_header_is_rejected(tmp_path):
    path = tmp_path / "blox-base-0.csv"
    path.write_bytes(b"version: 1\n---\nx")
    with pytest.raises(LegacyFormatError, match="must start with a '---'"):
        read_legacy_file(path)
    path.write_bytes(b"---\nversion: 1\n" + b"x: 1\n" * 300 + b"---\n")
    with pytest.raises(LegacyFormatError, match="first 1024 bytes"):
        read_legacy_file(path)
    good = _one_file(tmp_path).read_bytes()
    path.write_bytes(good.replace(b"version: 1", b"version: 2"))
    with pytest.raises(LegacyFormatError, match="version 2"):
        read_legacy_file(path)


@pytest.mark.parametrize("fmt", ["csv", "pickle", "custom"])
def test_truncated_payload_is_rejected(tmp_path, fmt):
    path = _one_file(tmp_path, fmt)
    data = path.read_bytes()
    if fmt == "custom":
        header, payload = data.split(b"\n---\n", 1)
        raw = zlib.decompress(payload)
        data = header + b"\n---\n" + zlib.compress(raw[: len(raw) - 40])
    else:
        data = data[: len(data) - 40]
    path.write_bytes(data)
    with pytest.raises(LegacyFormatError, match=path.name):
        read_legacy_file(path)


@pytest.mark.parametrize("fmt", ["csv", "pickle", "custom"])
def test_wrong_column_order_is_rejected(tmp_path, fmt):
    rows = [[r[0], r[2], r[1], r[3]] for r in make_rows(0, np.random.default_rng(0))["base"]]
    path = _one_file(
        tmp_path, fmt, columns=["model_hash", "test_top1", "val_top1", "train_time_s"], rows=rows
    )
    with pytest.raises(LegacyFormatError, match="not the base columns"):
        read_legacy_file(path)


class Sneaky:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.parametrize("payload", [Sneaky(), [[Sneaky()]], [[np.float64(1.0)]]])
def test_pickle_with_an_object_is_rejected(tmp_path, payload, capsys):
    path = tmp_path / "blox-base-0.pickle"
    extras = {"seed": 0, "epochs": EPOCHS, "dataset": "cifar100", "part": "base"}
    path.write_bytes(header_text("training", BASE, extras, "pickle") + pickle.dumps(payload))
    with pytest.raises(LegacyFormatError, match="only plain containers and numbers"):
        read_legacy_file(path)
    assert "pwned" not in capsys.readouterr().out


def test_unknown_hash_and_missing_base_are_rejected(tmp_path):
    rows = make_rows(0, np.random.default_rng(0))["base"]
    rows[0][0] = "0" * 32
    folder = tmp_path / "bad"
    folder.mkdir()
    _one_file(folder, "csv", rows=rows)
    with pytest.raises(LegacyFormatError, match="unknown model hash"):
        import_legacy(folder, tmp_path / "x.zarr")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(LegacyFormatError, match="no blox-base-SEED"):
        import_legacy(empty, tmp_path / "y.zarr")
    assert not (tmp_path / "x.zarr").exists()


def test_bulk_list_parsing_matches_the_exact_path():
    from blox_space.legacy._files import _float_lists

    rng = np.random.default_rng(3)
    values = np.round(rng.integers(0, 45000, (1500, 9)) * 100 / 45000, 3)
    cells = [str(row) for row in values.tolist()]
    bulk, lengths = _float_lists(cells, "train_top1", Path("x.csv"))
    exact, _ = _float_lists(cells[:10], "train_top1", Path("x.csv"))
    np.testing.assert_array_equal(bulk, values)
    np.testing.assert_array_equal(exact, values[:10])
    assert lengths.tolist() == [9] * 1500
    cells[700] = "[1.0, 2.0, x, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]"
    with pytest.raises(LegacyFormatError, match="non-number"):
        _float_lists(cells, "train_top1", Path("x.csv"))


# ---------------------------------------------------------------------------------------
# property tests of the codec pieces
# ---------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(bits=st.integers(1, 24), data=st.data())
def test_bit_unpacking_inverts_lsb_first_packing(bits, data):
    from blox_space.legacy._codec import _unpack_bits

    rows = data.draw(
        st.lists(st.lists(st.integers(0, 2**bits - 1), min_size=5, max_size=5), min_size=1, max_size=4)
    )
    packed = np.array([list(_pack(r, bits)) for r in rows], dtype=np.uint8)
    np.testing.assert_array_equal(_unpack_bits(packed, 5, bits), np.array(rows, dtype=np.uint64))


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.from_regex(r"[0-9a-f]{32}", fullmatch=True),
            st.lists(st.floats(0, 100, allow_nan=False).map(lambda v: round(v, 3)), max_size=4),
            st.integers(0, 10**6),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_fast_csv_split_agrees_with_the_csv_module(rows):
    from blox_space.legacy._files import _split_csv

    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    for h, values, n in rows:
        writer.writerow([h, str(values), str(n)])
    text = buf.getvalue()
    assert _split_csv(text, 3) == list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("fmt", ["csv", "pickle"])
def test_bench_files_become_latency_stores(releases, tmp_path, fmt):
    import shutil

    folder = tmp_path / "with-bench"
    shutil.copytree(releases[fmt], folder)
    rows = [[blox_space.to_hash(m), 0.001 * (i + 1)] for i, m in enumerate(MODELS)]
    write_file(
        folder,
        "blox-bench-gpu-a100",
        fmt,
        "benchmarking",
        ["model_hash", "latency"],
        {"device": "gpu-a100"},
        rows,
    )
    out = import_legacy(folder, tmp_path / "b.zarr", latency_out=tmp_path / "lat")
    bench = open_benchmark(out, latency=[tmp_path / "lat" / "latency-gpu-a100.zarr"])
    assert bench.devices == ["gpu-a100"]
    assert bench.latency(MODELS[2], "gpu-a100") == pytest.approx(0.003)
