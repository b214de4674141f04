import numpy as np
import pytest
import soundfile

from dfcnn.audio import SAMPLE_RATE, audio_info, load_audio, resample
from dfcnn.errors import AudioError


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
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(AudioError, match="cut.flac"):
        load_audio(path)


def test_zero_samples(tmp_path):
    soundfile.write(str(tmp_path / "none.wav"), np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="none.wav: holds no audio samples"):
        load_audio(tmp_path / "none.wav")


def test_directory(tmp_path):
    with pytest.raises(AudioError, match="is a directory"):
        load_audio(tmp_path)


@pytest.mark.parametrize("rates", [(8000, 16000), (44100, 16000), (48000, 16000), (16000, 22050)])
def test_resampling_gives_librosa_soxr_hq_numbers(rates):
    import librosa

    wave = np.random.default_rng(1).standard_normal(12345).astype(np.float32) * 0.1
    ours = resample(wave, *rates)
    assert ours.dtype == np.float32
    expected = librosa.resample(wave, orig_sr=rates[0], target_sr=rates[1], res_type="soxr_hq")
    np.testing.assert_array_equal(ours, expected)
