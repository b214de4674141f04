import re
import warnings

import numpy as np
import pytest
import soundfile
from conftest import shared_corpus

from dfcnn.audio import SAMPLE_RATE, audio_info, load_audio, resample, stream_audio
from dfcnn.data import SpeechDataset, Utterance
from dfcnn.errors import AudioError, DfcnnWarning


def dominant_frequency(wave: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(wave))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(wave))


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100])
@pytest.mark.parametrize("channels", [1, 2])
def test_wav_any_rate_and_channels_becomes_16k_mono(write_tone, rate, channels):
    path = write_tone(f"tone_{rate}_{channels}.wav", rate=rate, channels=channels, seconds=1.0, freq=440.0)
    wave = load_audio(path)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) - SAMPLE_RATE) <= 2
    assert abs(dominant_frequency(wave) - 440.0) < 3.0
    assert 0.3 < np.abs(wave).max() < 0.6


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("a.flac", {}),
        ("a.ogg", {"format": "OGG", "subtype": "VORBIS"}),
        ("a.opus", {"format": "OGG", "subtype": "OPUS"}),
        ("a.mp3", {"format": "MP3", "subtype": "MPEG_LAYER_III"}),
    ],
)
def test_compressed_formats(write_tone, name, kwargs):
    path = write_tone(name, rate=44100 if "mp3" in name else 16000, seconds=1.0, freq=1000.0, **kwargs)
    wave = load_audio(path)
    assert abs(len(wave) - SAMPLE_RATE) < 0.06 * SAMPLE_RATE  # codecs pad a few ms
    assert abs(dominant_frequency(wave) - 1000.0) < 5.0


def test_stereo_is_averaged(tmp_path):
    left = np.full(1600, 0.5, dtype=np.float32)
    soundfile.write(str(tmp_path / "s.wav"), np.stack([left, -left], axis=1), 16000, subtype="FLOAT")
    assert np.allclose(load_audio(tmp_path / "s.wav"), 0.0)


def test_info_reads_header(write_tone):
    path = write_tone("i.wav", rate=8000, channels=2, seconds=0.5)
    assert audio_info(path) == (0.5, 8000, 2)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="nope.wav: no such file"):
        load_audio(tmp_path / "nope.wav")


def test_empty_file(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty.wav: empty file"):
        load_audio(tmp_path / "empty.wav")


def test_not_audio(tmp_path):
    (tmp_path / "notes.wav").write_text("these are not samples\n" * 50)
    with pytest.raises(AudioError, match="notes.wav: not a readable audio file"):
        load_audio(tmp_path / "notes.wav")


def test_corrupt_truncated_flac(write_tone):
    path = write_tone("cut.flac", seconds=2.0)
    path.write_bytes(path.read_bytes()[:60])  # the header only: nothing decodes
    with pytest.raises(AudioError, match="cut.flac"):
        load_audio(path)


CUT_FORMATS = {  # soundfile.write options of each format a file is cut short in
    "wav": {"format": "WAV", "subtype": "PCM_16"},
    "flac": {"format": "FLAC"},
    "ogg": {"format": "OGG", "subtype": "VORBIS"},
    "opus": {"format": "OGG", "subtype": "OPUS"},
    "mp3": {"format": "MP3", "subtype": "MPEG_LAYER_III"},
}


@pytest.fixture(scope="module")
def recording() -> tuple[np.ndarray, int]:
    """A real 3.3 s recording (CMU ARCTIC, from the shared data), decoded."""
    path = sorted((shared_corpus("cathy_arctic") / "data_16k").glob("*.opus"))[0]
    return soundfile.read(str(path), dtype="float32")


def cut_in_half(tmp_path, recording, extension: str):
    """The recording written as ``extension``, and a copy of that file cut after half of its bytes."""
    full, cut = tmp_path / f"full.{extension}", tmp_path / f"cut.{extension}"
    soundfile.write(str(full), *recording, **CUT_FORMATS[extension])
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    return full, cut


@pytest.mark.parametrize("extension", list(CUT_FORMATS))
def test_a_file_cut_short_is_used_as_far_as_it_decodes_with_one_warning_saying_so(tmp_path, recording, extension):
    """One rule for every format: what decodes is used, and one line names the file and how much decoded
    of what its header declares (Ogg declares no length; a stream without its last page is cut)."""
    full, cut = cut_in_half(tmp_path, recording, extension)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the whole file: no warning
        whole = load_audio(full)
    for decode in (load_audio, lambda path: np.concatenate(list(stream_audio(path, block_seconds=0.5)))):
        with pytest.warns(DfcnnWarning) as caught:
            partial = decode(cut)
        assert len(caught) == 1
        message = str(caught[0].message)
        assert message.startswith(f"{cut}: cut short or damaged ("), message
        assert message.endswith("; using what was decoded")
        assert 0.15 * len(whole) < len(partial) < 0.8 * len(whole)
        assert float(re.search(r"decoded ([\d.]+) s", message).group(1)) == pytest.approx(
            len(partial) / 16000, abs=0.006
        )
        if extension not in ("ogg", "opus"):
            assert f" of the {len(whole) / 16000:.2f} s its header declares" in message
        np.testing.assert_allclose(partial, whole[: len(partial)], atol=1e-5)  # the start of the recording
    with pytest.raises(AudioError, match=f"^{re.escape(str(cut))}: cut short or damaged .*decoded [\\d.]+ s"):
        load_audio(cut, strict=True)


def test_training_skips_a_file_cut_short(tmp_path, recording):
    """A training transcript is of the whole file: cut short, the utterance is unreadable (skipped, named)."""
    full, cut = cut_in_half(tmp_path, recording, "flac")
    dataset = SpeechDataset([Utterance(full, 3.3, "x", "full"), Utterance(cut, 3.3, "x", "cut")])
    assert dataset[0][3] is None
    assert dataset[1][1] is None and dataset[1][3].startswith(f"{cut}: cut short or damaged (a decoding error)")


@pytest.mark.parametrize("rate", [1, 3_999, 2_000_000])
def test_absurd_sample_rates_are_refused(tmp_path, rate):
    path = tmp_path / "odd.wav"
    soundfile.write(str(path), np.zeros(1000, dtype=np.float32), rate)  # at 1 Hz: 1000 seconds of nothing
    message = (
        f"{path}: a sample rate of {rate:,} Hz is outside what any speech recording uses (dfcnn reads 4,000 "
        "to 768,000 Hz)"
    )
    for read in (audio_info, load_audio, lambda p: list(stream_audio(p))):
        with pytest.raises(AudioError) as caught:
            read(path)
        assert str(caught.value) == message


def test_zero_samples(tmp_path):
    soundfile.write(str(tmp_path / "none.wav"), np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="none.wav: holds no audio samples"):
        load_audio(tmp_path / "none.wav")


def test_directory(tmp_path):
    with pytest.raises(AudioError, match="is a folder with no audio files in it"):
        load_audio(tmp_path)


@pytest.mark.parametrize("rates", [(8000, 16000), (44100, 16000), (48000, 16000), (16000, 22050)])
def test_resampling_gives_librosa_soxr_hq_numbers(rates):
    import librosa

    wave = np.random.default_rng(1).standard_normal(12345).astype(np.float32) * 0.1
    ours = resample(wave, *rates)
    assert ours.dtype == np.float32
    expected = librosa.resample(wave, orig_sr=rates[0], target_sr=rates[1], res_type="soxr_hq")
    np.testing.assert_array_equal(ours, expected)
