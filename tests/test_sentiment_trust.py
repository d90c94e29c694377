"""The sentiment commands on bad input and on published results (issue #10).

Every user-caused failure is one line on stderr and exit status 2, with nothing
written; records never mix models; figures stay out of reports/ unless asked;
--resume refuses changed options; one training per run folder. The runs are
real but tiny (ten reviews), and the commands run in-process through
``run_main`` (a bug would raise instead of returning 2) except where a second
process is the point.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from dynamics.cli import run_main
from sentiment.__main__ import PROG, main
from sentiment.train import LOCK_FILE, TrainConfig, train

RESULTS = os.path.join("reports", "sentiment", "results.json")


def _write_parquet(folder, train_rows, test_rows) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    for split, rows in (("train", train_rows), ("test", test_rows)):
        table = pa.table({"text": [t for t, _ in rows], "label": [label for _, label in rows]})
        pq.write_table(table, os.path.join(folder, f"{split}.parquet"))


TRAIN_ROWS = [("a wonderful great film", 1), ("awful boring bad film", 0)] * 5
TEST_ROWS = [("great wonderful", 1), ("boring awful", 0), ("wonderful film", 1)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """``(data folder, run folder)``: a two-epoch d = 2 model trained on ten reviews."""
    root = tmp_path_factory.mktemp("tiny")
    data = root / "data"
    data.mkdir()
    _write_parquet(data, TRAIN_ROWS, TEST_ROWS)
    run = str(root / "run")
    train(TrainConfig(dim=2, depth=2, epochs=2, min_count=1, out_dir=run, data_dir=str(data),
                      cache_dir=str(root / "cache"), progress=False), command="python -m sentiment train (tiny)")
    return str(data), run


@pytest.fixture
def cli(capsys, tmp_path, monkeypatch):
    """Run ``python -m sentiment ARGS`` in-process in a scratch folder: ``(status, stdout, stderr lines)``."""
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()

    def call(*args: str) -> tuple[int, str, list[str]]:
        status = run_main(PROG, main, list(args))
        out, err = capsys.readouterr()
        return status, out, [line for line in err.splitlines() if line.strip()]

    return call


def _copy_run(run: str, tmp_path) -> str:
    copy = str(tmp_path / "copy")
    shutil.copytree(run, copy)
    return copy


def _snapshot(folder) -> dict:
    """Bytes and modification times of every file under ``folder`` (empty if it does not exist).

    The training lock file is left out: a training that takes the lock writes its pid there.
    """
    out = {}
    for base, _, files in os.walk(folder):
        for name in set(files) - {LOCK_FILE}:
            path = os.path.join(base, name)
            with open(path, "rb") as handle:
                out[path] = (handle.read(), os.stat(path).st_mtime_ns)
    return out


def _one_error(status: int, err: list[str], *fragments: str) -> None:
    assert status == 2, err
    assert len(err) == 1 and err[0].startswith(f"{PROG}: error: ") and "Traceback" not in err[0], err
    for fragment in fragments:
        assert fragment in err[0], err


def _sha256(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


# --- (6) checkpoints, meta.json, parquet and cache ------------------------------------------------------------

def _state(**shapes) -> dict:
    base = {"alpha": (), "embedding.weight": (8, 2), "decoder.weight": (1, 2), "decoder.bias": (1,)}
    return {name: torch.zeros(shape) for name, shape in (base | shapes).items()}


@pytest.mark.parametrize("damage, fragment", [
    (lambda b: b[: len(b) // 2], "not a readable checkpoint"),
    (lambda b: b"garbage\n", "not a readable checkpoint"),
    (lambda b: b"", "empty or truncated"),
    ("pickle", "objects other than tensors"),
    ("shape", "tensor 'embedding.weight' has shape (8, 3) (expected (8, 2)"),
    ("list", "not a state_dict"),
])
def test_a_bad_model_pt_is_one_line(tiny, cli, tmp_path, damage, fragment):
    data, run = tiny
    copy = _copy_run(run, tmp_path)
    model_path = os.path.join(copy, "model.pt")
    if damage == "pickle":
        torch.save({"alpha": torch.zeros(()), "code": print}, model_path)
    elif damage == "shape":
        torch.save(_state(**{"embedding.weight": (8, 3)}), model_path)
    elif damage == "list":
        torch.save([torch.zeros(2)], model_path)
    else:
        with open(model_path, "rb") as handle:
            content = handle.read()
        with open(model_path, "wb") as handle:
            handle.write(damage(content))
    status, _, err = cli("evaluate", copy, "--data-dir", data, "--record")
    _one_error(status, err, f"{model_path}: ", fragment)
    assert not os.path.exists(RESULTS)


def _edit_meta(edit):
    def apply(meta: dict):
        edit(meta)
        return meta
    return apply


@pytest.mark.parametrize("content, fragment", [
    ("{bad", "not valid JSON"),
    ("[1, 2]", "a JSON list (expected the JSON object"),
    (_edit_meta(lambda m: m["model"].pop("dim")), "missing key 'model.dim' (expected an integer in 1..4096"),
    (_edit_meta(lambda m: m["model"].update(dim="2")), "key 'model.dim' is \"2\" (expected an integer in 1..4096)"),
    (_edit_meta(lambda m: m["model"].update(mask_pads=1)), "key 'model.mask_pads' is 1 (expected true or false)"),
    (_edit_meta(lambda m: m["train"].update(truncate="middle")), "key 'train.truncate' is \"middle\""),
    (_edit_meta(lambda m: m.update(vocab=m["vocab"][:-1])), "'vocab' has 7 words (expected model.vocab_size = 8)"),
    (_edit_meta(lambda m: m["model"].update(dim=3)), "model.pt: tensor 'embedding.weight' has shape (8, 2)"),
    (_edit_meta(lambda m: m.update(model_sha256="0" * 64)), "is not the model meta.json describes"),
])
def test_a_bad_meta_json_is_one_line(tiny, cli, tmp_path, content, fragment):
    data, run = tiny
    copy = _copy_run(run, tmp_path)
    meta_path = os.path.join(copy, "meta.json")
    if callable(content):
        with open(meta_path, encoding="utf-8") as handle:
            content = json.dumps(content(json.load(handle)))
    with open(meta_path, "w", encoding="utf-8") as handle:
        handle.write(content)
    status, _, err = cli("leaders", copy, "--data-dir", data)
    _one_error(status, err, copy + os.sep, fragment)


@pytest.mark.parametrize("test_file, fragment", [
    (b"junk", "not a readable parquet file"),
    ({"review": ["x"], "label": [1]}, "no column 'text', found review, label"),
    ({"text": ["x"], "label": ["pos"]}, "column 'label' has type string (expected integer"),
    ({"text": [], "label": []}, "no reviews"),
    ({"text": ["x", None], "label": [1, 0]}, "column 'text' has missing values"),
    ({"text": ["x", "y"], "label": [1, 5]}, "column 'label' holds [1, 5] (expected 0 or 1)"),
])
def test_a_bad_parquet_is_one_line_and_leaves_no_run_folder(cli, tmp_path, test_file, fragment):
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = tmp_path / "data"
    data.mkdir()
    _write_parquet(data, TRAIN_ROWS, TEST_ROWS)
    path = data / "test.parquet"
    if isinstance(test_file, bytes):
        path.write_bytes(test_file)
    else:
        schema = pa.schema([(k, pa.string() if k != "label" or (v and isinstance(v[0], str)) else pa.int64())
                            for k, v in test_file.items()])
        pq.write_table(pa.table(test_file, schema=schema), path)
    status, _, err = cli("train", "--data-dir", str(data), "--out-dir", "fresh", "--min-count", "1", "--no-progress")
    _one_error(status, err, f"{path}: ", fragment)
    assert not os.path.exists("fresh")


def test_a_corrupted_cached_encoding_is_reported_and_rebuilt(tiny, cli, tmp_path):
    data, run = tiny
    copy = _copy_run(run, tmp_path)
    meta_path, cache = os.path.join(copy, "meta.json"), str(tmp_path / "own-cache")
    meta = json.load(open(meta_path, encoding="utf-8"))
    meta["train"]["cache_dir"] = cache  # the analyses use the run's cache folder: one of this test's own
    with open(meta_path, "w", encoding="utf-8") as handle:
        json.dump(meta, handle)
    status, first, _ = cli("evaluate", copy, "--data-dir", data, "--json")
    assert status == 0
    (encoded,) = [os.path.join(base, "encoded.npz") for base, _, files in os.walk(cache) if "encoded.npz" in files]
    with open(encoded, "r+b") as handle:
        handle.truncate(40)
    status, again, err = cli("evaluate", copy, "--data-dir", data, "--json")
    assert status == 0 and json.loads(again) == json.loads(first)
    assert len(err) == 1 and encoded in err[0] and "rebuilding" in err[0], err
    status, _, err = cli("evaluate", copy, "--data-dir", data)
    assert status == 0 and err == []  # rebuilt: read without complaint


# --- (8) records belong to one model, figures stay out of reports/ ------------------------------------------

def _train_cli(cli, data: str, out: str, *extra: str) -> dict:
    status, out_text, err = cli("train", "--dim", "2", "--depth", "2", "--epochs", "2", "--min-count", "1",
                                "--data-dir", data, "--out-dir", out, "--no-progress", "--json", *extra)
    assert status == 0, err
    return json.loads(out_text)


def test_records_carry_the_model_hash_and_provenance(tiny, cli):
    data, _ = tiny
    summary = _train_cli(cli, data, "a", "--record")
    sha = _sha256(os.path.join("a", "model.pt"))
    meta = json.load(open(os.path.join("a", "meta.json"), encoding="utf-8"))
    assert summary["model_sha256"] == meta["model_sha256"] == sha
    status, _, err = cli("evaluate", "a", "--data-dir", data, "--record")
    assert status == 0, err
    (entry,) = json.load(open(RESULTS, encoding="utf-8"))["runs"]
    assert entry["model_sha256"] == sha and set(entry["provenance"]) == {"train", "evaluate"}
    for step in entry["provenance"].values():
        assert set(step) == {"command", "commit", "date", "model_sha256"} and step["model_sha256"] == sha
        assert step["date"].endswith("+00:00") and step["command"].startswith(PROG)
    assert entry["provenance"]["train"]["command"] == entry["command"] and "--record" in entry["command"]
    assert sha[:12] in open(RESULTS.replace(".json", ".md"), encoding="utf-8").read()


def test_recording_another_models_numbers_is_refused_unless_replace(tiny, cli):
    data, _ = tiny
    published = _train_cli(cli, data, "a", "--record")
    other = _train_cli(cli, data, "b", "--seed", "3")
    assert other["model_sha256"] != published["model_sha256"]
    before = _snapshot("reports")
    for command in ("evaluate", "leaders", "crosscheck", "plot"):
        status, _, err = cli(command, "b", "--data-dir", data, "--record", "--workers", "1") if command == \
            "crosscheck" else cli(command, "b", "--data-dir", data, "--record")
        _one_error(status, err, "belongs to another model", published["model_sha256"][:12],
                   other["model_sha256"][:12], "--replace")
    assert _snapshot("reports") == before  # neither results.json/.md nor any figure was written
    status, _, err = cli("evaluate", "b", "--data-dir", data, "--record", "--replace")
    assert status == 0, err
    (entry,) = json.load(open(RESULTS, encoding="utf-8"))["runs"]
    assert entry["model_sha256"] == other["model_sha256"] and entry["command"] == other["command"]
    assert set(entry["provenance"]) == {"train", "evaluate"}  # restarted from b/summary.json, same model


def test_a_record_without_a_model_hash_is_refused(tiny, cli):
    data, run = tiny
    os.makedirs(os.path.dirname(RESULTS))
    with open(RESULTS, "w", encoding="utf-8") as handle:
        json.dump({"runs": [{"dim": 2, "test_accuracy": 0.9, "command": "python -m sentiment train --dim 2"}]}, handle)
    before = _snapshot("reports")
    status, _, err = cli("evaluate", run, "--data-dir", data, "--record")
    _one_error(status, err, "belongs to another model", "is not recorded")
    assert _snapshot("reports") == before


def test_plot_draws_into_the_run_folder_unless_recording(tiny, cli, tmp_path):
    data, run = tiny
    copy = _copy_run(run, tmp_path)
    status, out, err = cli("plot", copy, "--data-dir", data, "--json")
    assert status == 0, err
    figures = json.loads(out)["figures"]
    assert figures and all(f.startswith(os.path.join(copy, "figures")) and os.path.isfile(f) for f in figures)
    assert not os.path.exists("reports")
    status, _, err = cli("plot", copy, "--data-dir", data, "--review", "99")
    _one_error(status, err, "--review: 99")


# --- (8) resume and the run-folder lock -----------------------------------------------------------------------

@pytest.mark.parametrize("change, fragment", [
    (("--lr", "0.01"), "--lr was 0.001 in the interrupted run, now 0.01"),
    (("--mask-pads",), "--mask-pads was not given in the interrupted run, now given"),
    (("--no-lemmatize",), "--no-lemmatize was not given"),
    (("--min-count", "2"), "--min-count was 1"),
])
def test_resume_refuses_changed_options(tiny, cli, tmp_path, change, fragment):
    data, run = tiny
    copy = _copy_run(run, tmp_path)
    before = _snapshot(copy)
    args = ["train", "--dim", "2", "--depth", "2", "--epochs", "3", "--data-dir", data, "--out-dir", copy,
            "--no-progress", "--resume", "--min-count", "1", "--recipe", "paper", *change]  # tiny: the paper's
    status, _, err = cli(*args)
    _one_error(status, err, os.path.join(copy, "last.pt"), fragment)
    assert _snapshot(copy) == before


def test_resume_with_more_epochs_and_a_bad_last_pt(tiny, cli, tmp_path):
    data, run = tiny
    copy = _copy_run(run, tmp_path)
    summary = json.load(open(os.path.join(copy, "summary.json"), encoding="utf-8"))
    more = _train_cli(cli, data, copy, "--resume", "--epochs", "3", "--patience", "9", "--recipe", "paper")
    assert more["epochs"] == 3 and more["earlier_commands"] == [summary["command"]]
    last = os.path.join(copy, "last.pt")
    with open(last, "r+b") as handle:
        handle.truncate(100)
    status, _, err = cli("train", "--dim", "2", "--depth", "2", "--epochs", "4", "--min-count", "1", "--data-dir",
                         data, "--out-dir", copy, "--no-progress", "--resume", "--recipe", "paper")
    _one_error(status, err, f"{last}: not a readable checkpoint")


def test_a_second_training_into_the_same_folder_is_refused(tiny, cli, tmp_path):
    data, run = tiny
    copy = _copy_run(run, tmp_path)
    with open(os.path.join(copy, LOCK_FILE), "a+") as held:  # another process would hold it the same way
        fcntl.flock(held, fcntl.LOCK_EX)
        before = _snapshot(copy)
        status, _, err = cli("train", "--dim", "2", "--data-dir", data, "--out-dir", copy, "--no-progress")
        _one_error(status, err, f"{copy}: another process", "is training into this folder")
        assert _snapshot(copy) == before
    # a holder killed with SIGKILL leaves no stale lock
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a+'); "
                               "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
                               os.path.join(copy, LOCK_FILE)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        status, _, err = cli("train", "--dim", "2", "--data-dir", data, "--out-dir", copy, "--no-progress")
        _one_error(status, err, "another process")
    finally:
        holder.kill()
        holder.wait()
    _train_cli(cli, data, copy)


def test_the_entry_point_prints_one_line_for_a_truncated_model(tiny, tmp_path):
    data, run = tiny
    copy = _copy_run(run, tmp_path)
    with open(os.path.join(copy, "model.pt"), "r+b") as handle:
        handle.truncate(64)
    result = subprocess.run([sys.executable, "-m", "sentiment", "evaluate", copy, "--data-dir", data],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "model.pt: not a readable checkpoint" in lines[0], result.stderr


@pytest.mark.parametrize("args", [["train", "--lr", "0"], ["train", "--seed", "-1"], ["train", "--depth", "-1"],
                                  ["train", "--tau", "nan"], ["train", "--weight-decay", "-0.1"],
                                  ["plot", "run", "--review", "-1"]])
def test_out_of_range_options_are_refused_by_the_parser(cli, capsys, args):
    with pytest.raises(SystemExit) as stop:
        cli(*args)
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and err[0].startswith(PROG), err
    assert f"argument {args[-2]}" in err[0], err


def test_replace_needs_record(tiny, cli):
    data, run = tiny
    status, _, err = cli("evaluate", run, "--data-dir", data, "--replace")
    _one_error(status, err, "--replace: only with --record")


def test_resuming_a_paper_recipe_run_with_the_default_recipe_names_the_difference(tiny, cli, tmp_path):
    """``tiny`` was trained with the paper's recipe; the default is now the validated one: the resume is
    refused in one line naming an option that differs, and nothing is written."""
    data, run = tiny
    copy = _copy_run(run, tmp_path)
    before = _snapshot(copy)
    status, _, err = cli("train", "--dim", "2", "--depth", "2", "--epochs", "3", "--min-count", "1", "--data-dir",
                         data, "--out-dir", copy, "--no-progress", "--resume")
    _one_error(status, err, os.path.join(copy, "last.pt"), "in the interrupted run")
    assert _snapshot(copy) == before
