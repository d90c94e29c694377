"""The IMDb experiment on small subsets: preprocessing, loading, the model, training, analysis."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from sentiment.data import DataError, load_imdb, resolve_data_dir
from sentiment.model import ClusteringClassifier
from sentiment.text import PAD, UNK, Preprocessor, Vocabulary, clean

SHARED = resolve_data_dir()
needs_imdb = pytest.mark.skipif(SHARED is None, reason="the IMDb parquet files are not beside the repository")


def test_clean_removes_links_html_punctuation_and_numbers():
    text = "Great movie!<br /><br />See http://x.com/a?b=1 or www.y.org. 10/10, wasn't it?"
    assert clean(text) == "great movie see or wasnt it"


def test_preprocessor_drops_stop_words_and_lemmatises():
    pre = Preprocessor()
    assert pre.tokens(["The movies were NOT good, the actors loved it"]) == [["movie", "good", "actor", "love"]]
    kept = Preprocessor(keep_negations=True).tokens(["The movies were NOT good"])
    assert kept == [["movie", "not", "good"]]
    as_written = Preprocessor(lemmatize=False).tokens(["The best movies, the worst actors"])
    assert as_written == [["best", "movies", "worst", "actors"]]


def test_vocabulary_by_frequency_with_pad_and_unk():
    vocab = Vocabulary.build([["b", "a", "b"], ["c", "b", "a"], ["z"]], min_count=2)
    assert vocab.words == [PAD, UNK, "b", "a"]
    ids = vocab.encode([["a", "zzz", "b"], ["b"] * 10], length=4)
    assert ids.tolist() == [[3, 1, 2, 0], [2, 2, 2, 2]]
    with pytest.raises(ValueError):
        Vocabulary(["a", "b"])


def test_truncation_keeps_the_head_or_the_tail_of_long_reviews():
    vocab = Vocabulary([PAD, UNK, "a", "b", "c"])
    tokens = [["a", "b", "c", "c", "b"], ["c"]]
    assert vocab.encode(tokens, length=3).tolist() == [[2, 3, 4], [4, 0, 0]]
    assert vocab.encode(tokens, length=3, truncate="tail").tolist() == [[4, 4, 3], [4, 0, 0]]
    with pytest.raises(ValueError, match="truncate"):
        vocab.encode(tokens, truncate="middle")


def test_token_dropout_removes_words_but_never_a_whole_review():
    from sentiment.train import drop_tokens

    ids = torch.tensor([[5, 6, 7, 8] * 50, [9, 0, 0, 0] * 50, [3] + [0] * 199])
    out = drop_tokens(ids, 0.5, torch.Generator().manual_seed(0))
    assert ((out == ids) | (out == 0)).all()  # words are only ever replaced by <PAD>
    assert 0.4 < (out[0] == 0).float().mean() < 0.6  # about half of a long review is dropped
    assert (out[1:] != 0).any(dim=1).all()  # a review keeps at least one word
    assert out[2, 0] == 3  # a one-word review keeps its word
    assert drop_tokens(ids, 0.0, torch.Generator()).equal(ids)


@pytest.fixture
def tiny_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = {"train": [("a wonderful great film", 1), ("awful boring bad film", 0)] * 5,
            "test": [("great wonderful", 1), ("boring awful", 0)]}
    for split, data in rows.items():
        table = pa.table({"text": [t for t, _ in data], "label": [l for _, l in data]})
        pq.write_table(table, tmp_path / f"{split}.parquet")
    return str(tmp_path)


def test_loading_a_local_parquet_folder_and_the_cache(tiny_parquet, tmp_path, monkeypatch):
    from sentiment.features import encode_imdb

    data = load_imdb(tiny_parquet)
    assert data["train"].num_rows == 10 and data["test"]["label"] == [1, 0]
    monkeypatch.setenv("IMDB_DATA_DIR", tiny_parquet)
    assert resolve_data_dir() == tiny_parquet
    cache = str(tmp_path / "cache")
    first = encode_imdb(None, min_count=1, length=6, cache_dir=cache)
    second = encode_imdb(None, min_count=1, length=6, cache_dir=cache)
    assert not first.from_cache and second.from_cache
    assert np.array_equal(first.test_ids, second.test_ids) and first.vocab.words == second.vocab.words
    assert first.test_ids.shape == (2, 6)


def test_missing_data_dir_is_a_one_line_error(tmp_path):
    with pytest.raises(DataError, match="no train.parquet"):
        resolve_data_dir(str(tmp_path))


def test_model_layers_are_the_dynamics_backend_and_pad_masking_works():
    torch.manual_seed(0)
    model = ClusteringClassifier(vocab_size=50, dim=4, depth=3, tau=1e-4, mask_pads=True)
    ids = torch.tensor([[5, 6, 7, 0, 0], [9, 9, 3, 4, 0]])
    soft, hard = model(ids, "softmax"), model(ids, "hardmax")
    assert soft.shape == (2,) and torch.allclose(soft, hard, atol=1e-4)
    more_pads = torch.cat([ids, torch.zeros(2, 7, dtype=torch.long)], dim=1)
    assert torch.allclose(model(more_pads, "hardmax"), hard, atol=1e-6)  # masked pads change nothing
    states, winners = model.trajectory(ids)
    assert len(states) == 4 and len(winners) == 4
    assert not winners[0][0, :, 3:].any()  # nobody attends to a masked pad


@pytest.mark.parametrize("mask_pads", (True, False))
def test_the_trajectorys_final_state_gives_the_models_hardmax_logit_bit_for_bit(mask_pads):
    """The exact cross-validation reads the float prediction off ``model.trajectory`` instead of
    running the layers again: the two must be the same floats."""
    torch.manual_seed(1)
    model = ClusteringClassifier(vocab_size=300, dim=16, depth=8, tau=1e-3, mask_pads=mask_pads)
    generator = torch.Generator().manual_seed(2)
    for n in (1, 2, 17, 120, 250):
        review = torch.randint(1, 300, (1, n), generator=generator)
        review[0, ::5] = review[0, 0]  # repeated words
        states, _ = model.trajectory(review, rule="hardmax")
        from_states = model.decoder(model.pooled(states[-1], review)).squeeze(-1)
        assert torch.equal(from_states, model(review, rule="hardmax"))


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    if SHARED is None:
        pytest.skip("the IMDb parquet files are not beside the repository")
    from sentiment.train import TrainConfig, train

    out = str(tmp_path_factory.mktemp("run"))
    cfg = TrainConfig(dim=8, epochs=4, lr=1e-2, batch_size=32, limit=2000, eval_limit=1000, mask_pads=True,
                      keep_negations=True, patience=4, out_dir=out, progress=False, threads=2)
    return out, train(cfg)


@needs_imdb
def test_training_on_2000_reviews_beats_chance(trained_run):
    _, summary = trained_run
    assert summary["train_reviews"] == 2000 and summary["test_reviews"] == 1000
    assert summary["test_accuracy"] > 0.70, summary  # chance is 0.5 (balanced classes)
    assert summary["val_accuracy"] > 0.70
    assert 0.95 < summary["agreement"] <= 1.0
    assert summary["epochs"] == len(summary["history"]) >= 1


@needs_imdb
def test_checkpoint_loads_with_weights_only_and_resumes(trained_run):
    from sentiment.train import TrainConfig, load_model, train

    out, summary = trained_run
    model, meta = load_model(out)
    assert meta["best_epoch"] == summary["best_epoch"] and len(meta["vocab"]) == model.embedding.num_embeddings
    state = torch.load(os.path.join(out, "last.pt"), weights_only=True)
    assert state["epoch"] == summary["epochs"]
    more = train(TrainConfig(dim=8, epochs=summary["epochs"] + 1, lr=1e-2, batch_size=32, limit=2000,
                             eval_limit=1000,
                             mask_pads=True, keep_negations=True, patience=10, out_dir=out, progress=False,
                             resume=True))
    assert more["epochs"] == summary["epochs"] + 1
    assert more["history"][: summary["epochs"]] == summary["history"]


@needs_imdb
def test_analysis_commands(trained_run, tmp_path):
    out, _ = trained_run

    def run(*args):
        result = subprocess.run([sys.executable, "-m", "sentiment", *args, "--json"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    evaluation = run("evaluate", out, "--limit", "200")
    assert evaluation["test_reviews"] == 200 and 0.5 < evaluation["test_accuracy"] <= 1
    leaders = run("leaders", out, "--limit", "100")
    stats = leaders["leaders_per_review"]
    assert stats["min"] >= 1 and stats["min"] <= stats["mean"] <= stats["max"] <= 128
    exact = run("crosscheck", out, "--limit", "15")
    assert exact["test_reviews"] == 15 and exact["rows"] > 0
    from test_formats import validate  # the documented formats (docs/schemas/)

    validate(evaluation, "sentiment-evaluate")
    validate(exact, "sentiment-crosscheck")
    assert 0 <= exact["wrong_predictions"] <= 15
    figures = run("plot", out, "--limit", "50", "--output-dir", str(tmp_path))
    assert all(os.path.getsize(f) > 1000 for f in figures["figures"])
    published = tmp_path / "published"
    for step in ("evaluate", "leaders"):  # --record adds each analysis to the record of the run's key
        run(step, out, "--limit", "30", "--record", "--output-dir", str(published))
    from sentiment.results import read_results, record_key

    records = read_results(str(published / "results.json"))["runs"]
    assert [record_key(r) for r in records] == [(8, "ours", "paper")]  # TrainConfig's defaults: the paper's recipe
    assert set(records[0]["provenance"]) == {"train", "evaluate", "leaders"} and records[0]["leaders"]["test_reviews"] == 30


def test_cli_errors_are_one_line(tmp_path):
    for args, fragment in ((["evaluate", str(tmp_path)], "not a trained run"),
                           (["train", "--dim", "0"], "invalid positive integer"),
                           (["train", "--token-dropout", "1"], "expected a probability"),
                           (["train", "--lr-decay", "0"], "expected a factor in (0, 1]"),
                           (["train", "--data-dir", str(tmp_path), "--limit", "5"], "no train.parquet")):
        result = subprocess.run([sys.executable, "-m", "sentiment", *args], capture_output=True, text=True)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], (args, result.stderr)


def test_validation_holds_out_whole_blocks_of_consecutive_review_ids():
    from sentiment.train import split_indices

    labels = np.repeat([0, 1], 1000)
    review_ids = np.tile(np.arange(1000), 2)
    train_idx, val_idx = split_indices(2000, 0.1, 0, labels, review_ids, block=50)
    assert len(val_idx) == 200 and len(set(train_idx) & set(val_idx)) == 0
    blocks = lambda idx: {(int(labels[i]), int(review_ids[i]) // 50) for i in idx}  # noqa: E731
    assert not blocks(train_idx) & blocks(val_idx)  # no movie block on both sides
    random_train, random_val = split_indices(2000, 0.1, 0)
    assert len(random_val) == 200 and blocks(random_train) & blocks(random_val)


def test_recording_results_merges_by_dim_and_writes_the_markdown_table(tmp_path):
    from sentiment.results import RecordError, record_analysis, record_training

    path = str(tmp_path / "results.json")
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    prov = {"command": "python -m sentiment evaluate x", "commit": None, "date": "2025-01-01T00:00:00+00:00"}
    record_training({"dim": 16, "val_accuracy": 0.86, "test_accuracy": 0.87, "model_sha256": a,
                     "command": "python -m sentiment train --dim 16", "commit": "f" * 40, "date": "2025-01-01"}, path)
    record_training({"dim": 4, "test_accuracy": 0.81, "epochs": 3, "best_epoch": 2, "model_sha256": b}, path)
    record_analysis(path, "evaluate", {"dim": 16, "hardmax_test_accuracy": 0.869}, prov | {"model_sha256": a})
    with pytest.raises(RecordError, match="belongs to another model"):
        record_analysis(path, "evaluate", {"dim": 4, "test_accuracy": 0.5}, prov | {"model_sha256": c})
    with open(path, encoding="utf-8") as handle:
        runs = json.load(handle)["runs"]
    assert [r["dim"] for r in runs] == [4, 16] and runs[0]["test_accuracy"] == 0.81
    assert runs[1]["command"] == "python -m sentiment train --dim 16" and runs[1]["hardmax_test_accuracy"] == 0.869
    assert runs[1]["provenance"]["train"]["commit"] == "f" * 40 and "commit" not in runs[1]
    assert runs[1]["provenance"]["evaluate"]["model_sha256"] == a
    table = (tmp_path / "results.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| 4 ") or
            line.startswith("| 16 ")}
    assert "| 0.823 |" in rows["4"] and "**no**" in rows["4"]  # 0.81 < 0.803 + 0.02
    assert "| 0.866 |" in rows["16"] and "| yes |" in rows["16"]  # 0.87 >= 0.846 + 0.02
    assert "- **d = 16** — model sha256 `aaaaaaaaaaaa`, commit `ffffffffff`" in table
    assert "  - train: `python -m sentiment train --dim 16`" in table and "  - evaluate: `python -m sentiment evaluate x`" in table
    record_training({"dim": 16, "test_accuracy": 0.5, "model_sha256": c}, path)  # a new model: a new record
    with open(path, encoding="utf-8") as handle:
        assert json.load(handle)["runs"][1] == {"dim": 16, "test_accuracy": 0.5, "model_sha256": c,
                                                "provenance": {"train": {"command": None, "commit": None,
                                                                         "date": None, "model_sha256": c}}}


def test_train_starts_from_the_validated_recipe_and_explicit_options_win():
    from dataclasses import asdict

    from sentiment.__main__ import build_parser, train_config
    from sentiment.train import TrainConfig

    def config(*argv):
        return train_config(build_parser().parse_args(["train", *argv]))

    small, large = config("--dim", "2"), config("--dim", "16")
    assert (small.lr, small.lr_decay, small.lemmatize, small.mask_pads) == (1e-2, 0.85, True, True)
    assert (large.lr, large.token_dropout, large.weight_decay, large.lemmatize) == (5e-3, 0.3, 0.05, False)
    assert (large.epochs, large.patience, large.max_vocab, large.truncate) == (30, 3, 10000, "tail")
    paper = config("--dim", "16", "--recipe", "paper")
    defaults = asdict(TrainConfig(dim=16, out_dir=paper.out_dir))
    assert asdict(paper) | {"progress": True} == defaults | {"progress": True}  # the paper's = TrainConfig's defaults
    mixed = config("--dim", "16", "--lemmatize", "--lr", "0.02", "--no-mask-pads")
    assert (mixed.lemmatize, mixed.lr, mixed.mask_pads, mixed.token_dropout) == (True, 0.02, False, 0.3)


def test_leader_lift_ranks_by_share_where_present_not_by_frequency():
    from collections import Counter

    from sentiment.analysis import leader_lift

    as_leader = Counter({"the": 450, "superb": 50, "rare": 3})
    in_reviews = Counter({"the": 1000, "superb": 50, "rare": 3, "never": 47})
    ranked = leader_lift(as_leader, in_reviews, min_reviews=20)
    # shares: superb leads 50/503 of leader words, occurs in 50/1100 of word-reviews: lift 2.187
    assert [r[0] for r in ranked] == ["superb", "the", "never"] and ranked[0][2:] == [50, 50]
    assert abs(ranked[0][1] - (50 / 503) / (50 / 1100)) < 1e-4 and ranked[2][1] == 0.0
    assert "rare" not in [r[0] for r in ranked]  # below the support threshold


def test_the_papers_protocol_pools_all_reviews_and_splits_them_70_30():
    from sentiment.features import Encoded
    from sentiment.text import Vocabulary
    from sentiment.train import paper_split

    train_ids = np.arange(60).reshape(30, 2)
    test_ids = 100 + np.arange(40).reshape(20, 2)
    encoded = Encoded(Vocabulary([PAD, UNK]), train_ids, np.arange(30) % 2, test_ids, np.arange(20) % 2,
                      np.arange(30), "x", False, 0.0)
    split = paper_split(encoded, seed=3)
    assert len(split.train_ids) == 35 and len(split.test_ids) == 15 and split.train_review_ids is None
    rows = {tuple(r) for r in np.concatenate([split.train_ids, split.test_ids]).tolist()}
    assert rows == {tuple(r) for r in np.concatenate([train_ids, test_ids]).tolist()}  # a partition of all 50
    assert not {tuple(r) for r in split.train_ids.tolist()} & {tuple(r) for r in split.test_ids.tolist()}
    both = np.concatenate([train_ids, test_ids]), np.concatenate([encoded.train_labels, encoded.test_labels])
    label_of = {tuple(r): int(l) for r, l in zip(both[0].tolist(), both[1])}
    assert all(label_of[tuple(r)] == l for r, l in zip(split.test_ids.tolist(), split.test_labels))
    assert (split.test_ids >= 100).any() and (split.train_ids >= 100).any()  # the old test set is spread over both
    again = paper_split(encoded, seed=3)
    assert np.array_equal(again.test_ids, split.test_ids)  # seeded
    assert not np.array_equal(paper_split(encoded, seed=4).test_ids, split.test_ids)


def _parquet_folder(folder, rows: dict) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(folder, exist_ok=True)
    for split, data in rows.items():
        pq.write_table(pa.table({"text": [t for t, _ in data], "label": [l for _, l in data]}),
                       os.path.join(folder, f"{split}.parquet"))
    return str(folder)


def test_a_paper_protocol_run_builds_its_vocabulary_on_all_reviews_and_chooses_its_epoch_on_its_test_set(tmp_path):
    from sentiment.analysis import test_set
    from sentiment.features import encode_imdb
    from sentiment.train import TrainConfig, load_model, paper_split, train

    data = _parquet_folder(tmp_path / "data", {
        "train": [("a wonderful great film", 1), ("awful boring bad film", 0)] * 10,
        "test": [("superb wonderful film", 1), ("dreadful awful film", 0)] * 5})
    only_train = encode_imdb(data, min_count=1, length=8, cache_dir=None)
    everything = encode_imdb(data, min_count=1, cache_dir=None, vocab_on="all")
    assert "superb" not in only_train.vocab.words and "superb" in everything.vocab.words
    assert np.array_equal(everything.train_labels, only_train.train_labels)
    with pytest.raises(ValueError, match="vocab_on"):
        encode_imdb(data, vocab_on="test", cache_dir=None)

    out = str(tmp_path / "run")
    summary = train(TrainConfig(dim=2, depth=1, epochs=2, protocol="paper", recipe="validated", min_count=1,
                                data_dir=data, cache_dir=None, out_dir=out, progress=False, mask_pads=True))
    assert (summary["protocol"], summary["recipe"], summary["chosen_on"]) == ("paper", "validated", "test")
    assert (summary["train_reviews"], summary["val_reviews"], summary["test_reviews"]) == (21, 9, 9)
    assert summary["val_accuracy"] == summary["test_accuracy"]  # the epoch was chosen on the test set
    _, meta = load_model(out)
    vocab, ids, labels = test_set(meta, data, None)  # the analyses test on the same 30 %
    expected = paper_split(everything, seed=0)
    assert vocab.words == everything.vocab.words
    assert np.array_equal(ids, expected.test_ids) and np.array_equal(labels, expected.test_labels)


def test_records_are_kept_per_d_protocol_and_recipe_with_the_command_behind_each_number(tmp_path):
    from sentiment.results import file_tag, read_results, record_analysis, record_key, record_training

    path = str(tmp_path / "results.json")
    a, b = "a" * 64, "b" * 64
    record_training({"dim": 16, "test_accuracy": 0.872, "model_sha256": a, "command": "train ours"}, path)
    record_training({"dim": 16, "test_accuracy": 0.88, "model_sha256": b, "protocol": "paper",
                     "recipe": "validated", "chosen_on": "test", "train_reviews": 35000, "test_reviews": 15000,
                     "command": "train --protocol paper"}, path)
    leaders = {"leaders_per_review": {"mean": 50.0, "std": 1.0, "min": 3, "max": 99},
               "fraction_leaders_at_layer_0": 1.0, "confident_reviews": 7, "test_reviews": 15000}
    record_analysis(path, "leaders", {"dim": 16, "protocol": "paper", "recipe": "validated", "leaders": leaders},
                    {"command": "leaders paper", "commit": None, "date": None, "model_sha256": b})
    runs = read_results(path)["runs"]
    assert [record_key(r) for r in runs] == [(16, "ours", "validated"), (16, "paper", "validated")]
    assert runs[0]["test_accuracy"] == 0.872 and runs[1]["leaders"] == leaders  # neither replaced the other
    table = (tmp_path / "results.md").read_text(encoding="utf-8")
    assert "Both protocols" in table
    row = next(line for line in table.splitlines() if line.startswith("| 16 | paper | validated |"))
    assert "**0.880**" in row and "| test |" in row and "(35000)" in row and "| 0.882 |" in row
    assert "- **d = 16 (paper protocol, validated recipe)** — model sha256 `bbbbbbbbbbbb`:" in table and "  - leaders: `leaders paper`" in table
    assert "| 16 (paper protocol, validated recipe) | 50.0 |" in table  # the leaders table names the record
    assert file_tag(record_key(runs[0])) == "d16" and file_tag(record_key(runs[1])) == "d16_paper-protocol"
    assert file_tag((16, "paper", "paper")) == "d16_paper-protocol_paper-recipe"


def test_the_leader_word_chart_has_no_overlapping_labels():
    import matplotlib.pyplot as plt

    from sentiment.analysis import leader_words_figure
    from verify.plots import text_overlaps

    words = ["<UNK>", "movie", "extraordinarily", "not", "film", "disappointing", "a" * 18] * 3
    by_lift = {side: [[w + str(i), 12.0 - i / 10, 4000 - i, 4000] for i, w in enumerate(words[:20])]
               for side in ("negative", "positive")}
    fig = leader_words_figure(by_lift, "d = 16 (paper protocol, validated recipe)")
    try:
        assert text_overlaps(fig) == []
    finally:
        plt.close(fig)
