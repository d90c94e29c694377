"""Loading the IMDb reviews through ``datasets`` (SPEC §6).

Where the data come from, in order:

1. ``data_dir`` (the ``--data-dir`` option), a folder with ``train.parquet``
   and ``test.parquet`` (schema of ``stanfordnlp/imdb``: ``text``, ``label``);
2. the ``IMDB_DATA_DIR`` environment variable;
3. ``../shared/data/imdb`` beside this repository, if present (this
   project's machines and CI);
4. otherwise the Hugging Face hub dataset ``stanfordnlp/imdb`` (users online).
"""

from __future__ import annotations

import os
from pathlib import Path

HUB_NAME = "stanfordnlp/imdb"
ENV_VAR = "IMDB_DATA_DIR"

__all__ = ["HUB_NAME", "ENV_VAR", "resolve_data_dir", "load_imdb", "DataError"]


class DataError(ValueError):
    """The data cannot be found or read (one-line message)."""


def resolve_data_dir(data_dir: str | None = None) -> str | None:
    """The local parquet folder to use, or ``None`` for the hub (see module docstring)."""
    for candidate, origin in ((data_dir, "--data-dir"), (os.environ.get(ENV_VAR), ENV_VAR)):
        if candidate:
            for split in ("train", "test"):
                if not os.path.isfile(os.path.join(candidate, f"{split}.parquet")):
                    raise DataError(f"{origin}: {candidate}: no {split}.parquet (expected train.parquet and "
                                    "test.parquet with columns text, label)")
            return candidate
    beside = Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb"
    if (beside / "train.parquet").is_file() and (beside / "test.parquet").is_file():
        return str(beside)
    return None


def load_imdb(data_dir: str | None = None, hub_name: str = HUB_NAME):
    """The IMDb train and test splits as a ``datasets.DatasetDict`` with ``text`` and ``label``."""
    import datasets

    datasets.disable_progress_bars()
    folder = resolve_data_dir(data_dir)
    try:
        if folder is not None:
            files = {split: os.path.join(folder, f"{split}.parquet") for split in ("train", "test")}
            data = datasets.load_dataset("parquet", data_files=files)
        else:
            data = datasets.load_dataset(hub_name)
    except Exception as exc:  # datasets raises many types; the user needs one line
        where = folder or f"the hub dataset {hub_name!r}"
        raise DataError(f"cannot load IMDb from {where}: {type(exc).__name__}: {exc}".splitlines()[0]) from None
    for split in ("train", "test"):
        if split not in data or not {"text", "label"} <= set(data[split].column_names):
            raise DataError(f"{folder or hub_name}: split {split!r} must have columns 'text' and 'label'")
    return data
