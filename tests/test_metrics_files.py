"""A run's per-epoch metrics read the same whichever format wrote them (train.metrics_format)."""
import math

from genn_eventprop.metrics_files import append_metrics, read_metrics



def test_metrics_read_the_same_from_csv_and_jsonl(tmp_path):
    row = {"epoch": 1, "lr": 0.01, "train_loss": 0.5, "train_accuracy": 0.75, "valid_loss": float("nan"),
           "valid_accuracy": float("nan"), "hidden_spikes_per_neuron": 3.0, "epoch_seconds": 2.0,
           "train_samples_per_second": 100.0}
    for name in ("a/metrics.csv", "b/metrics.jsonl"):
        (tmp_path / name).parent.mkdir()
        append_metrics(str(tmp_path / name), row)
        append_metrics(str(tmp_path / name), dict(row, epoch=2, valid_loss=0.7, valid_accuracy=0.5))
    from_csv, from_jsonl = read_metrics(str(tmp_path / "a")), read_metrics(str(tmp_path / "b"))
    assert [r["epoch"] for r in from_csv] == [r["epoch"] for r in from_jsonl] == [1.0, 2.0]
    assert from_csv[1] == from_jsonl[1] and from_csv[1]["valid_accuracy"] == 0.5
    assert math.isnan(from_csv[0]["valid_accuracy"]) and math.isnan(from_jsonl[0]["valid_accuracy"])
    assert read_metrics(str(tmp_path)) == []


def test_a_search_scores_a_run_with_averaging_from_its_first_averaged_epoch(tmp_path):
    from genn_eventprop.search import best_of_run
    row = {"epoch": 1, "lr": 0.01, "train_loss": 0.5, "train_accuracy": 0.75, "valid_loss": 0.7,
           "valid_accuracy": 0.9, "hidden_spikes_per_neuron": 3.0, "epoch_seconds": 2.0,
           "train_samples_per_second": 100.0}
    for epoch, accuracy in ((1, 0.9), (2, 0.5), (3, 0.6)):
        append_metrics(str(tmp_path / "metrics.csv"), dict(row, epoch=epoch, valid_accuracy=accuracy))
    assert best_of_run(str(tmp_path), "valid_accuracy") == 0.9
    assert best_of_run(str(tmp_path), "valid_accuracy", first_epoch=2) == 0.6
