"""Miniature replicas of LibriSpeech, AISHELL-1, THCHS-30 and AN4, built from real speech in the shared data.

Each builder lays out a few recordings under the corpus's own folder names, file names, transcript
syntax, audio format and text encoding, so a recipe's prepare.py reads the replica exactly as it would
read the full corpus. The audio is real speech from ../shared/data (re-encoded to the corpus's
format); only the words differ from the real corpus where the shared data has none to match.

Every builder returns ``{utt_id: (split, expected normalised text, duration in seconds)}``.
"""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

import numpy as np
import soundfile

from dfcnn.audio import load_audio

RATE = 16_000  # all four corpora are 16 kHz


def _speech(path: Path) -> np.ndarray:
    """Real speech as 16 kHz float32."""
    return load_audio(path, RATE)


def _write(path: Path, wave: np.ndarray, **kwargs) -> float:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), wave, RATE, subtype="PCM_16", **kwargs)
    return len(wave) / RATE


# ---------------------------------------------------------------- LibriSpeech
# real speaker/chapter ids of each subset; utterances numbered from 0000 as in the corpus
LIBRI_LAYOUT = {
    "train-clean-100": [("19", "198", 2), ("103", "1240", 2)],
    "dev-clean": [("84", "121123", 2)],
    "test-clean": [("1089", "134686", 2)],
    "test-other": [("1688", "142285", 1)],
}


def _libri_text(raw: str) -> str:
    """LibriSpeech's transcript style: upper case, no punctuation but the apostrophe."""
    return " ".join(re.sub(r"[^A-Z' ]", " ", raw.upper().replace("-", " ")).split())


def build_librispeech(root: Path, cathy: Path, ljspeech: Path) -> dict:
    """root/LibriSpeech/<subset>/<spk>/<chapter>/<spk>-<chapter>-<nnnn>.flac + <spk>-<chapter>.trans.txt."""
    sources = []  # (audio, raw text): ARCTIC prompts, then LJSpeech sentences with apostrophes
    for txt in sorted((cathy / "data_16k").glob("arctic_a00*.txt"))[:6]:
        sources.append((txt.with_suffix(".opus"), txt.read_text(encoding="utf-8").strip()))
    for line in (ljspeech / "LJSpeech-1.1" / "metadata_subset.csv").read_text(encoding="utf-8").splitlines():
        utt, _, normalized = line.split("|")
        if "'" in normalized and len(normalized) < 90:
            sources.append((ljspeech / "LJSpeech-1.1" / "wavs" / f"{utt}.opus", normalized))
        if len(sources) == 9:
            break
    assert len(sources) == 9 and "'" in sources[-1][1]
    sources.insert(0, sources.pop())  # the apostrophe into train
    expected, index = {}, 0
    for subset, chapters in LIBRI_LAYOUT.items():
        for speaker, chapter, count in chapters:
            folder = root / "LibriSpeech" / subset / speaker / chapter
            lines = []
            for n in range(count):
                audio, raw = sources[index]
                index += 1
                utt_id = f"{speaker}-{chapter}-{n:04d}"
                duration = _write(folder / f"{utt_id}.flac", _speech(audio), format="FLAC")
                text = _libri_text(raw)
                lines.append(f"{utt_id} {text}\n")
                expected[utt_id] = (subset, text.lower(), duration)
            (folder / f"{speaker}-{chapter}.trans.txt").write_text("".join(lines), encoding="utf-8")
    return expected


# ---------------------------------------------------------------- AISHELL-1
def _words(chars: str) -> str:
    """A stand-in for AISHELL's word segmentation: words of one or two characters, space-separated."""
    return " ".join(chars[i : i + 2] if i % 5 else chars[i] for i in _word_starts(len(chars)))


def _word_starts(n: int) -> list[int]:
    starts, i = [], 0
    while i < n:
        starts.append(i)
        i += 1 if i % 5 == 0 else 2
    return starts


AISHELL_LAYOUT = {  # split -> (speaker folder, source speaker in the sample, source utterance numbers, first W number)
    "train": ("S0002", "S0150", [1, 2, 3], 122),
    "dev": ("S0724", "S0252", [1, 2], 121),
    "test": ("S0764", "S0252", [3, 4], 121),
}


def build_aishell1(root: Path, sample: Path, packed: bool = False) -> dict:
    """root/data_aishell/wav/<split>/<spk>/BAC009<spk>W<nnnn>.wav + transcript/aishell_transcript_v0.8.txt.

    One extra train file has no transcript line (the real corpus has such files) and one transcript
    line has no audio. With ``packed``, wav/ holds one ``<spk>.tar.gz`` per speaker, as the
    downloaded data_aishell.tgz does.
    """
    base = root / "data_aishell"
    expected, lines = {}, []
    for split, (speaker, source, numbers, first) in AISHELL_LAYOUT.items():
        for k, number in enumerate(numbers):
            stem = f"BAC009{source}W{number:04d}"
            chars = (sample / "AISHELL_Sample_data" / f"{stem}.txt").read_text(encoding="utf-8").strip()
            utt_id = f"BAC009{speaker}W{first + k:04d}"
            duration = _write(
                base / "wav" / split / speaker / f"{utt_id}.wav",
                _speech(sample / "AISHELL_Sample_data" / f"{stem}.opus"),
            )
            lines.append(f"{utt_id} {_words(chars)}\n")
            expected[utt_id] = (split, chars, duration)
    untranscribed = base / "wav" / "train" / "S0002" / "BAC009S0002W0999.wav"
    _write(untranscribed, _speech(sample / "AISHELL_Sample_data" / "BAC009S0150W0004.opus"))
    lines.append("BAC009S0003W0121 这 句 没有 录音\n")
    (base / "transcript").mkdir(parents=True)
    (base / "transcript" / "aishell_transcript_v0.8.txt").write_text("".join(sorted(lines)), encoding="utf-8")
    if packed:
        for split_dir in sorted((base / "wav").iterdir()):
            for speaker_dir in sorted(split_dir.iterdir()):
                with tarfile.open(base / "wav" / f"{speaker_dir.name}.tar.gz", "w:gz") as tar:
                    tar.add(speaker_dir, arcname=f"{split_dir.name}/{speaker_dir.name}")
        for split_dir in [p for p in (base / "wav").iterdir() if p.is_dir()]:
            for path in sorted(split_dir.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
            split_dir.rmdir()
    return expected


# ---------------------------------------------------------------- THCHS-30
THCHS_LAYOUT = {"train": ["A2_0", "A2_1", "A4_0"], "dev": ["A11_175"], "test": ["D4_750", "D4_751"]}


def _phones(syllable: str) -> str:
    """A tonal pinyin syllable as THCHS's line 3 writes it: initial and final apart (``guang3`` -> ``g uang3``)."""
    for initial in (
        "zh",
        "ch",
        "sh",
        "b",
        "p",
        "m",
        "f",
        "d",
        "t",
        "n",
        "l",
        "g",
        "k",
        "h",
        "j",
        "q",
        "x",
        "r",
        "z",
        "c",
        "s",
        "y",
        "w",
    ):
        if syllable.startswith(initial) and len(syllable) > len(initial) + 1:
            return f"{initial} {syllable[len(initial) :]}"
    return syllable


def build_thchs30(root: Path, aishell3: Path, symlink_one: bool = True) -> dict:
    """root/data_thchs30/{data,train,dev,test}: data/X.wav + data/X.wav.trn (3 lines); <split>/X.wav +
    <split>/X.wav.trn holding ``../data/X.wav.trn`` (one of them a real symbolic link instead)."""
    base = root / "data_thchs30"
    content = (aishell3 / "train_sample" / "content.txt").read_text(encoding="utf-8").splitlines()
    expected, line = {}, 0
    for split, names in THCHS_LAYOUT.items():
        for name in names:
            wav_name, _, pairs = content[line].partition("\t")
            line += 1
            tokens = pairs.split()
            chars, pinyin = tokens[0::2], tokens[1::2]
            wave = _speech(aishell3 / "train_sample" / "SSB0139" / wav_name.replace(".wav", ".opus"))
            duration = _write(base / "data" / f"{name}.wav", wave)
            _write(base / split / f"{name}.wav", wave)
            trn = f"{_words(''.join(chars))}\n{' '.join(pinyin)}\n{' '.join(_phones(p) for p in pinyin)}\n"
            (base / "data" / f"{name}.wav.trn").write_text(trn, encoding="utf-8")
            pointer = base / split / f"{name}.wav.trn"
            if symlink_one and name == "A2_1":
                pointer.symlink_to(Path("..") / "data" / f"{name}.wav.trn")
            else:
                pointer.write_text(f"../data/{name}.wav.trn\n", encoding="utf-8")
            expected[name] = (split, "".join(chars), duration)
    return expected


# ---------------------------------------------------------------- AN4
DIGITS = "ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE".split()
AN4_LAYOUT = {  # split -> [(file id, fsdd takes spoken one after the other)]
    "train": [
        ("an251-fash-b", ["7_jackson_10", "3_jackson_11"]),
        ("an253-fash-b", ["1_jackson_12"]),
        ("an86-fbbh-b", ["9_theo_10"]),
        ("an87-fbbh-b", ["2_theo_11", "5_theo_12"]),
        ("cen1-mgah-b", ["4_nicolas_10"]),
        ("cen2-mgah-b", ["8_nicolas_11", "0_nicolas_12"]),
    ],
    "test": [("cen1-fcaw-b", ["6_george_0"]), ("cen2-fcaw-b", ["1_george_1", "2_george_2"])],
}
AN4_DIRS = {"train": "an4_clstk", "test": "an4test_clstk"}


def write_sphere(path: Path, wave: np.ndarray) -> float:
    """16-bit big-endian NIST SPHERE with a hand-written 1024-byte header, AN4's layout."""
    samples = np.clip(np.round(wave * 32767), -32768, 32767).astype(">i2")
    fields = [
        "NIST_1A",
        "   1024",
        f"sample_count -i {len(samples)}",
        f"sample_rate -i {RATE}",
        "channel_count -i 1",
        "sample_byte_format -s2 10",
        "sample_n_bytes -i 2",
        "sample_sig_bits -i 16",
        "sample_coding -s3 pcm",
        "end_head",
    ]
    header = ("\n".join(fields) + "\n").encode("ascii").ljust(1024, b" ")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + samples.tobytes())
    return len(samples) / RATE


def build_an4(root: Path, fsdd: Path) -> dict:
    """root/an4/etc/an4_{train,test}.transcription + an4/wav/{an4_clstk,an4test_clstk}/<spk>/<id>.sph.

    Half the files have a hand-written SPHERE header, half the one libsndfile writes (format NIST).
    """
    base = root / "an4"
    expected = {}
    for split, items in AN4_LAYOUT.items():
        lines = []
        for k, (file_id, takes) in enumerate(items):
            speaker = file_id.split("-")[1]
            pause = np.zeros(RATE // 5, dtype=np.float32)
            wave = np.concatenate([np.concatenate([_speech(fsdd / "recordings" / f"{t}.wav"), pause]) for t in takes])
            path = base / "wav" / AN4_DIRS[split] / speaker / f"{file_id}.sph"
            if k % 2:
                duration = _write(path, wave, format="NIST")
            else:
                duration = write_sphere(path, wave)
            words = [DIGITS[int(t[0])] for t in takes]
            lines.append(f"<s> {' '.join(words)} </s> ({file_id})\n")
            expected[file_id] = (split, " ".join(words).lower(), duration)
        (base / "etc").mkdir(parents=True, exist_ok=True)
        (base / "etc" / f"an4_{split}.transcription").write_text("".join(lines), encoding="ascii")
    return expected
