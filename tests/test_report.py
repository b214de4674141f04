"""dfcnn report: tables, worst utterances, substitutions and training curves from an evaluation
folder and a metrics log; its errors name the file; the page opens in headless Chromium."""

from __future__ import annotations

import json

import matplotlib.image
import pytest
from test_inspect import open_in_chromium

from dfcnn.errors import DfcnnError
from dfcnn.viz.report import read_hypotheses, write_report


@pytest.fixture
def eval_dir(tmp_path, write_tone):
    folder = tmp_path / "eval-test"
    folder.mkdir()
    audio = write_tone("utt.wav", seconds=0.5)
    pairs = [
        ("one two three", "one two three"),
        ("four five", "for five six"),
        ("seven eight", "seven"),
        ("nine one", "nine won"),
    ]
    lines = [
        json.dumps({"utt_id": f"u{i}", "ref": r, "hyp": h, "audio_filepath": str(audio)})
        for i, (r, h) in enumerate(pairs)
    ]
    (folder / "hyps.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "results.md").write_text("model: exp/best.pt\nmanifest: data/test.jsonl\n\n### WER\n...")
    return folder


@pytest.fixture
def metrics(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [
        {"step": s, "epoch": 1 + s // 50, "loss": 3.0 / (1 + s / 20), "lr": 1e-3 * min(1, s / 20)}
        for s in range(10, 100, 10)
    ]
    lines += [
        {"step": 50, "epoch": 1, "dev_wer": 60.0, "dev_cer": 25.0},
        {"step": 100, "epoch": 2, "dev_wer": 40.0, "dev_cer": 15.0},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_report_has_tables_worst_utterances_substitutions_and_curves(eval_dir, metrics, tmp_path):
    page = write_report(tmp_path / "report", eval_dir, metrics, worst=2)
    html = page.read_text()
    # WER: 9 reference words; errors: four->for (S), six (I), eight (D), one->won (S) = 4 -> 44.4 %
    assert "<td class=num>44.4</td>" in html
    assert "<h3>u2: 1 word errors, WER 50%</h3>" in html and "<h3>u1: 2 word errors, WER 100%</h3>" in html
    assert html.index("u1:") < html.index("u2:") and "u3:" not in html  # worst first, only --worst of them
    assert "<td class=ins>six</td>" in html and "<td class=del>eight</td>" in html and "<td class=sub>four</td>" in html
    assert "<td>four</td><td>for</td><td class=num>1</td>" in html  # the substitutions table
    assert html.count("<audio controls") == 2 and (page.parent / "audio" / "u1.wav").is_file()
    assert matplotlib.image.imread(page.parent / "training.png").shape[:2] == (850, 1200)
    assert "<td class=num>40.0</td>" in html  # dev WER of epoch 2
    open_in_chromium(page, tmp_path / "report.png")


def test_report_errors_name_the_file(tmp_path, metrics):
    with pytest.raises(DfcnnError, match="nowhere: no such evaluation folder"):
        write_report(tmp_path / "r", eval_dir=tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DfcnnError, match="empty: no hyps"):
        read_hypotheses(tmp_path / "empty")
    metrics.write_text(metrics.read_text() + "{oops\n")
    with pytest.raises(DfcnnError, match=r"metrics.jsonl:12: not valid JSON"):
        write_report(tmp_path / "r", metrics=metrics)
    with pytest.raises(DfcnnError, match="missing.jsonl: metrics log not found"):
        write_report(tmp_path / "r", metrics=tmp_path / "missing.jsonl")
