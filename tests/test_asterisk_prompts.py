"""recipes/asterisk_prompts: the transcripts file, what counts as sayable, and a build from local
files in the packages' own formats (G.722 audio made with ffmpeg, a gzipped transcript list)."""

from __future__ import annotations

import gzip
import shutil
import subprocess

import numpy as np
import pytest
import soundfile

from recipes.asterisk_prompts import prepare as prompts

LINES = """; Core Asterisk Sounds in English

vm-deleted: Message deleted.
agent-pass: Please enter your password followed by the pound key.
dictate/forhelp: press 0 for help
dictate/both_help: press * to toggle pause, press # to enter a new dictation filename
letters/dash: dash [-]
beep: [this is a simple beep tone]
confbridge-join: <beep ascending>
silence/1: (1 second of silence)
spy-iax: IAX (note: does not say "2")
demo-echotest: To execute an echo test dial 600.
digits/a-m: A.M.
no-recording: Goodbye.
"""


def test_transcripts_say_what_the_speaker_says():
    said = {"Please enter your password, then the pound key.": "please enter your password then the pound key",
            "press * to toggle pause, press # to exit": "press star to toggle pause press pound to exit",
            "press 1 to accept this call, or 2 to reject it": "press one to accept this call or two to reject it",
            "dash [-]": "dash"}  # fmt: skip
    for raw, text in said.items():
        assert prompts.sayable(raw) == text
    for unsure in ("[ascending tones]", "<beep ascending>", "(10 seconds of silence)", "dial 600 now", "IAX",
                   "H.323", "A.M.", "a 28.8 kilobit modem"):  # fmt: skip
        assert prompts.sayable(unsure) is None, unsure


def test_a_malformed_transcript_line_is_named(tmp_path):
    path = tmp_path / "core-sounds-en.txt.gz"
    path.write_bytes(gzip.compress(b"vm-deleted: Message deleted.\nno colon here\n"))
    with pytest.raises(prompts.PromptError, match=r"core-sounds-en.txt.gz:2: expected 'name: transcript'"):
        prompts.read_transcripts(path)
    path.write_bytes(b"not gzip")
    with pytest.raises(prompts.PromptError, match="not a readable gzip"):
        prompts.read_transcripts(path)


def test_prepare_decodes_g722_and_writes_manifests(tmp_path):
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (bash tools/install_tts.sh installs it)")
    from dfcnn.data import read_manifest

    sounds, transcripts = tmp_path / "sounds", tmp_path / "core-sounds-en.txt.gz"
    transcripts.write_bytes(gzip.compress(LINES.encode()))
    rng = np.random.default_rng(0)
    for index, line in enumerate(x for x in LINES.splitlines() if ": " in x and not x.startswith(";")):
        name = line.split(": ")[0]
        if name == "no-recording":
            continue  # a transcript without audio is left out
        seconds = 0.5 + 0.25 * index
        wave = 0.3 * np.sin(2 * np.pi * 300 * np.arange(int(16000 * seconds)) / 16000) + 0.01 * rng.standard_normal(
            int(16000 * seconds))  # fmt: skip
        wav = tmp_path / "x.wav"
        soundfile.write(str(wav), wave.astype(np.float32), 16000)
        (sounds / name).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(wav), "-ar", "16000",
                        "-acodec", "g722", "-f", "g722", str(sounds / f"{name}.g722")], check=True)  # fmt: skip
    splits = prompts.prepare_asterisk_prompts(tmp_path / "out", sounds, transcripts, dev_fraction=0.2)
    every = {u.utt_id: u for split in splits.values() for u in split}
    assert set(every) == {"vm-deleted", "agent-pass", "dictate__forhelp", "dictate__both_help", "letters__dash"}
    assert every["dictate__forhelp"].text == "press zero for help"
    assert splits["dev"] and splits["train"]
    for split, utterances in splits.items():
        assert [u.utt_id for u in read_manifest(tmp_path / "out" / f"{split}.jsonl")] == [u.utt_id for u in utterances]
    audio, rate = soundfile.read(str(every["vm-deleted"].audio_filepath), dtype="float32")
    assert rate == 16000 and abs(len(audio) / rate - 0.5) < 0.02 and abs(audio.std() - 0.3 / np.sqrt(2)) < 0.05
    assert abs(every["vm-deleted"].duration - len(audio) / rate) < 1e-3
    (sounds / "vm-deleted.g722").write_bytes(b"")  # a damaged file is named (when it must be decoded again)
    (tmp_path / "out" / "audio" / "vm-deleted.flac").unlink()
    with pytest.raises(prompts.PromptError, match="vm-deleted.g722"):
        prompts.prepare_asterisk_prompts(tmp_path / "out", sounds, transcripts)
