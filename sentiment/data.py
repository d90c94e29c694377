"""Loading the IMDb reviews through ``datasets`` (SPEC §6).

Where the data come from, in order:

1. ``data_dir`` (the ``--data-dir`` option), a folder with ``train.parquet``
   and ``test.parquet`` (schema of ``stanfordnlp/imdb``: ``text``, ``label``);
2. the ``IMDB_DATA_DIR`` environment variable;
3. ``../shared/data/imdb`` beside this repository, if present (this
   project's machines and CI);
4. otherwise the Hugging Face hub dataset ``stanfordnlp/imdb`` (users online).

Local files are checked before they are used (:func:`check_parquet`): a
missing, unreadable or wrong-schema file is a one-line :class:`DataError`
naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dynamics.errors import InputError

HUB_NAME = "stanfordnlp/imdb"
ENV_VAR = "IMDB_DATA_DIR"
SPLITS = ("train", "test")
#: What a split file must hold (the ``stanfordnlp/imdb`` schema; ``review_id`` and ``rating`` are optional).
EXPECTED = "a parquet file with columns text (string) and label (integer 0/1)"

__all__ = ["HUB_NAME", "ENV_VAR", "SPLITS", "resolve_data_dir", "check_parquet", "check_data_dir", "load_imdb",
           "DataError"]


class DataError(InputError):
    """The data cannot be found or read (one-line message)."""


def resolve_data_dir(data_dir: str | None = None) -> str | None:
    """The local parquet folder to use, or ``None`` for the hub (see module docstring)."""
    for candidate, origin in ((data_dir, "--data-dir"), (os.environ.get(ENV_VAR), ENV_VAR)):
        if candidate:
            for split in SPLITS:
                if not os.path.isfile(os.path.join(candidate, f"{split}.parquet")):
                    raise DataError(f"{origin}: {candidate}: no {split}.parquet (expected train.parquet and "
                                    "test.parquet with columns text, label)")
            return candidate
    beside = Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb"
    if (beside / "train.parquet").is_file() and (beside / "test.parquet").is_file():
        return str(beside)
    return None


def _first_line(exc: BaseException, limit: int = 160) -> str:
    """``Type: message`` of an exception, first line only, at most ``limit`` characters."""
    text = (str(exc).strip().splitlines() or [""])[0]
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_parquet(path: str) -> int:
    """Check one split file from its footer (cheap) and return its number of rows.

    Parameters
    ----------
    path : str
        A ``train.parquet`` or ``test.parquet`` file.

    Returns
    -------
    int
        The number of reviews (> 0).

    Raises
    ------
    DataError
        The file is not readable parquet, lacks a column, has a column of the
        wrong type, or holds no rows.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_metadata(path)
        schema = metadata.schema.to_arrow_schema()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable parquet file ({_first_line(exc)}) (expected {EXPECTED})") from None
    for name, is_type, kind in (("text", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t), "string"),
                                ("label", pa.types.is_integer, "integer"),
                                ("review_id", pa.types.is_integer, "integer")):
        if name not in schema.names:
            if name == "review_id":
                continue
            raise DataError(f"{path}: no column {name!r}, found {', '.join(schema.names) or 'none'} "
                            f"(expected {EXPECTED})")
        if not is_type(schema.field(name).type):
            raise DataError(f"{path}: column {name!r} has type {schema.field(name).type} (expected {kind}; "
                            f"{EXPECTED})")
    if metadata.num_rows == 0:
        raise DataError(f"{path}: no reviews (expected {EXPECTED}, at least one row)")
    return metadata.num_rows


def check_data_dir(data_dir: str | None = None) -> str | None:
    """:func:`resolve_data_dir`, then :func:`check_parquet` on both split files of a local folder."""
    folder = resolve_data_dir(data_dir)
    if folder is not None:
        for split in SPLITS:
            check_parquet(os.path.join(folder, f"{split}.parquet"))
    return folder


def _check_values(split, where: str) -> None:
    """No missing texts or labels, and labels in {0, 1}."""
    for column in ("text", "label"):
        if split.data.column(column).null_count:
            raise DataError(f"{where}: column {column!r} has missing values (expected {EXPECTED})")
    labels = np.unique(np.asarray(split["label"]))
    if not set(labels.tolist()) <= {0, 1}:
        raise DataError(f"{where}: column 'label' holds {sorted(labels.tolist())[:5]} (expected 0 or 1)")


def load_imdb(data_dir: str | None = None, hub_name: str = HUB_NAME):
    """The IMDb train and test splits as a ``datasets.DatasetDict`` with ``text`` and ``label``.

    Raises
    ------
    DataError
        A file is missing, unreadable or of the wrong schema (the message names it),
        or the hub dataset cannot be loaded.
    """
    import datasets

    datasets.disable_progress_bars()
    folder = check_data_dir(data_dir)
    splits = {}
    for split in SPLITS:
        where = os.path.join(folder, f"{split}.parquet") if folder is not None else f"{hub_name} ({split})"
        try:
            if folder is not None:
                splits[split] = datasets.load_dataset("parquet", data_files={split: where}, split=split)
            else:
                splits[split] = datasets.load_dataset(hub_name, split=split)
        except Exception as exc:  # datasets raises many types; the user needs one line
            cause = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc  # datasets wraps pyarrow's
            raise DataError(f"{where}: cannot load ({_first_line(cause)}) (expected {EXPECTED})") from None
        if not {"text", "label"} <= set(splits[split].column_names):
            raise DataError(f"{where}: columns {', '.join(splits[split].column_names)} (expected {EXPECTED})")
        _check_values(splits[split], where)
    return datasets.DatasetDict(splits)
