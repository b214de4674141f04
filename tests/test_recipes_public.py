"""The LibriSpeech, AISHELL-1, THCHS-30 and AN4 recipes, offline.

Nothing can be downloaded here, so each recipe's prepare stage runs on a miniature replica of its
corpus (``public_replicas``: the real layout, file names, transcript syntax, audio format and
encoding, with real speech from ../shared/data), and the shared downloader (recipes/download.py) runs
against a local HTTP server and file:// URLs: resuming a cut download, a server that ignores Range,
a connection that breaks mid-way, a wrong checksum refused and the bad file not kept.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import shared_corpus
from public_replicas import build_aishell1, build_an4, build_librispeech, build_thchs30

from dfcnn.data import read_manifest
from dfcnn.text import Tokenizer, normalize_english, normalize_mandarin
from recipes import download
from recipes.aishell1 import fetch as aishell1_fetch
from recipes.aishell1 import prepare as aishell1_prepare
from recipes.an4 import fetch as an4_fetch
from recipes.an4 import prepare as an4_prepare
from recipes.librispeech import fetch as librispeech_fetch
from recipes.librispeech.prepare import prepare_librispeech
from recipes.thchs30 import fetch as thchs30_fetch
from recipes.thchs30 import prepare as thchs30_prepare

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "recipes"
PUBLIC = ("librispeech", "aishell1", "thchs30", "an4")
FETCH = {"librispeech": librispeech_fetch, "aishell1": aishell1_fetch, "thchs30": thchs30_fetch, "an4": an4_fetch}


def check_prepared(out: Path, expected: dict, normalizer: str, splits: tuple[str, ...]) -> dict:
    """Manifests read back: the expected utterances in their splits, texts, durations; vocab from train."""
    manifests = {split: read_manifest(out / f"{split}.jsonl") for split in splits}
    got = {u.utt_id: (split, u) for split, us in manifests.items() for u in us}
    assert {k: v[0] for k, v in got.items()} == {k: v[0] for k, v in expected.items()}
    normalize = normalize_english if normalizer == "english" else normalize_mandarin
    for utt_id, (_split, text, duration) in expected.items():
        utt = got[utt_id][1]
        assert utt.text == text and normalize(utt.text) == utt.text, utt
        assert utt.duration == pytest.approx(duration, abs=2e-3), utt
        assert utt.audio_filepath.is_absolute() and utt.audio_filepath.is_file()
    tokenizer = Tokenizer.from_file(out / "vocab.txt", normalizer=normalizer)
    train_chars = {c for u in manifests["train"] for c in u.text} - {" "}
    assert set(tokenizer.tokens) == {"<blank>", "|"} | train_chars
    return manifests


# ------------------------------------------------------------------------------------------ prepare
def test_librispeech_prepare(tmp_path):
    expected = build_librispeech(tmp_path / "corpus", shared_corpus("cathy_arctic"), shared_corpus("ljspeech_subset"))
    subset_to_split = {"train-clean-100": "train", "dev-clean": "dev", "test-clean": "test", "test-other": "test-other"}
    expected = {k: (subset_to_split[s], t, d) for k, (s, t, d) in expected.items()}
    # --corpus-dir may be the folder holding LibriSpeech/ or LibriSpeech/ itself
    returned = prepare_librispeech(tmp_path / "corpus", tmp_path / "out")
    assert set(returned) == {"train", "dev", "test", "test-other"}  # no dev-other in the replica: none written
    assert not (tmp_path / "out" / "dev-other.jsonl").exists()
    manifests = check_prepared(tmp_path / "out", expected, "english", ("train", "dev", "test", "test-other"))
    assert [u.utt_id for u in manifests["train"]] == ["103-1240-0000", "103-1240-0001", "19-198-0000", "19-198-0001"]
    assert any("'" in u.text for u in manifests["train"])  # LJSpeech's apostrophe survives
    again = prepare_librispeech(tmp_path / "corpus" / "LibriSpeech", tmp_path / "out2")
    assert (tmp_path / "out2" / "train.jsonl").read_bytes() == (tmp_path / "out" / "train.jsonl").read_bytes()
    assert len(again["train"]) == 4


def test_librispeech_prepare_errors(tmp_path):
    build_librispeech(tmp_path, shared_corpus("cathy_arctic"), shared_corpus("ljspeech_subset"))
    prepare = prepare_librispeech
    from dfcnn.errors import DfcnnError

    with pytest.raises(DfcnnError, match="train-clean-360: training subset not found"):
        prepare(tmp_path, tmp_path / "out", train_subsets=["train-clean-100", "train-clean-360"])
    (tmp_path / "LibriSpeech" / "dev-clean" / "84" / "121123" / "84-121123-0001.flac").unlink()
    with pytest.raises(DfcnnError, match=r"84-121123.trans.txt:2: audio 84-121123-0001.flac not found"):
        prepare(tmp_path, tmp_path / "out")


@pytest.mark.parametrize("packed", [False, True], ids=["unpacked", "speaker-archives"])
def test_aishell1_prepare(tmp_path, packed, capsys):
    expected = build_aishell1(tmp_path / "dl", shared_corpus("aishell1_sample"), packed=packed)
    if packed:  # as downloaded: wav/<speaker>.tar.gz; prepare says what to do, fetch.py's step unpacks them
        from dfcnn.errors import DfcnnError

        with pytest.raises(DfcnnError, match="unpack the 3 speaker archives"):
            aishell1_prepare.prepare_aishell1(tmp_path / "dl", tmp_path / "out")
        aishell1_fetch.unpack_speakers(tmp_path / "dl")
        assert not list((tmp_path / "dl" / "data_aishell" / "wav").glob("*.tar.gz"))
    aishell1_prepare.prepare_aishell1(tmp_path / "dl", tmp_path / "out")
    assert "train: 1 audio files without a transcript line left out" in capsys.readouterr().err
    manifests = check_prepared(tmp_path / "out", expected, "mandarin", ("train", "dev", "test"))
    for utt in manifests["train"]:
        assert " " not in utt.text  # the word spaces of the transcript are gone
    transcript = (tmp_path / "dl" / "data_aishell" / "transcript" / "aishell_transcript_v0.8.txt").read_text("utf-8")
    assert "BAC009S0002W0122 " in transcript and any(" " in line.split(" ", 1)[1] for line in transcript.splitlines())


def test_thchs30_prepare(tmp_path):
    expected = build_thchs30(tmp_path, shared_corpus("aishell3_SSB0139"))
    thchs30_prepare.prepare_thchs30(tmp_path, tmp_path / "out")
    manifests = check_prepared(tmp_path / "out", expected, "mandarin", ("train", "dev", "test"))
    # audio paths are the split folder's copies, the text is line 1 (words) of data/X.wav.trn
    assert all(u.audio_filepath.parent.name == "train" for u in manifests["train"])
    base = tmp_path / "data_thchs30"
    assert (base / "train" / "A2_1.wav.trn").is_symlink()
    assert (base / "train" / "A2_0.wav.trn").read_text("utf-8").strip() == "../data/A2_0.wav.trn"
    # the pointer in a split folder is followed when data/ is not where the text is looked up
    line1 = (base / "data" / "A2_0.wav.trn").read_text("utf-8").splitlines()[0]
    assert thchs30_prepare.read_trn(base / "train" / "A2_0.wav.trn") == line1 and " " in line1


def test_an4_prepare(tmp_path):
    expected = build_an4(tmp_path, shared_corpus("fsdd"))
    splits = an4_prepare.prepare_an4(tmp_path, tmp_path / "out")
    dev_speakers = {an4_prepare.speaker_of(u.utt_id) for u in splits["dev"]}
    assert len(dev_speakers) == 1  # max(1, round(0.1 * 3 speakers))
    expected = {
        k: ("dev" if s == "train" and an4_prepare.speaker_of(k) in dev_speakers else s, t, d)
        for k, (s, t, d) in expected.items()
    }
    manifests = check_prepared(tmp_path / "out", expected, "english", ("train", "dev", "test"))
    train_speakers = {an4_prepare.speaker_of(u.utt_id) for u in manifests["train"]}
    assert not train_speakers & dev_speakers and len(train_speakers) == 2
    assert manifests["test"][1].text == "one two"  # "<s> ONE TWO </s> (cen2-fcaw-b)"
    assert all(u.audio_filepath.suffix == ".sph" for us in manifests.values() for u in us)


def test_an4_bad_line_is_named(tmp_path):
    build_an4(tmp_path, shared_corpus("fsdd"))
    path = tmp_path / "an4" / "etc" / "an4_test.transcription"
    path.write_text(path.read_text() + "<s> NO ID HERE </s>\n")
    result = subprocess.run(
        [sys.executable, "-m", "recipes.an4.prepare", "--corpus-dir", str(tmp_path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 1
    assert f"{path}:3: expected" in result.stderr


@pytest.mark.parametrize("corpus", PUBLIC)
def test_missing_corpus_is_a_one_line_error(corpus, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            f"recipes.{corpus}.prepare",
            "--corpus-dir",
            str(tmp_path / "nowhere"),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 2 and str(tmp_path / "nowhere") in result.stderr
    assert "\n" not in result.stderr.strip()


@pytest.mark.parametrize("corpus", PUBLIC)
def test_recipe_files(corpus, tmp_path):
    folder = RECIPES / corpus
    for name in ("run.sh", "prepare.py", "fetch.py", "conf.yaml", "README.md", "RESULTS.md"):
        assert (folder / name).is_file(), name
    assert os.access(folder / "run.sh", os.X_OK)
    assert subprocess.run(["bash", "-n", str(folder / "run.sh")]).returncode == 0
    from dfcnn.config import load_config
    from dfcnn.training.train import ExperimentConfig

    config = load_config(ExperimentConfig, folder / "conf.yaml")
    assert config.data.normalizer == ("mandarin" if corpus in ("aishell1", "thchs30") else "english")
    # --data-dir skips the download stage
    result = subprocess.run(
        ["bash", str(folder / "run.sh"), "--data-dir", str(tmp_path), "--stop-stage", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"using the corpus at {tmp_path} (--data-dir): nothing to download" in result.stdout


def test_fetch_lists_official_urls():
    for corpus, host in (
        ("librispeech", "https://www.openslr.org/resources/12/"),
        ("aishell1", "https://www.openslr.org/resources/33/"),
        ("thchs30", "https://www.openslr.org/resources/18/"),
        ("an4", "http://www.speech.cs.cmu.edu/databases/an4/"),
    ):
        archives = FETCH[corpus].ARCHIVES
        for archive in archives.values():
            assert archive.url.startswith(host)
            assert archive.md5 is None or len(archive.md5) == 32
    assert librispeech_fetch.ARCHIVES["dev-clean"].md5 == "42e2234ba48799c1f50f24a7926300a1"
    assert an4_fetch.ARCHIVES["an4_sphere"].md5 is None  # CMU publishes none


# ------------------------------------------------------------------------------------------ download
PAYLOAD = bytes(range(256)) * 4096  # 1 MiB, not a multiple of the chunk size + a tail
PAYLOAD += b"tail"
MD5 = hashlib.md5(PAYLOAD).hexdigest()
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


class Server:
    """A local HTTP server of one file, with Range support, and faults to switch on."""

    def __init__(self, payload: bytes):
        self.payload = payload
        self.requests: list[dict] = []  # headers of each GET
        self.ignore_range = False
        self.cut_after: int | None = None  # close the next response after this many bytes of body
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(dict(self.headers))
                if self.path != "/corpus.tar.gz":
                    self.send_error(404)
                    return
                start = 0
                header = self.headers.get("Range")
                if header and not server.ignore_range:
                    start = int(header.split("=")[1].split("-")[0])
                    if start >= len(server.payload):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(server.payload)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(server.payload) - 1}/{len(server.payload)}")
                else:
                    self.send_response(200)
                body = server.payload[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None:
                    body, server.cut_after = body[: server.cut_after], None
                    self.wfile.write(body)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/corpus.tar.gz"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    with Server(PAYLOAD) as s:
        yield s


def test_download_verifies_and_skips_when_present(server, tmp_path):
    dest = download.download(server.url, tmp_path / "corpus.tar.gz", size=len(PAYLOAD), md5=MD5, progress=False)
    assert dest.read_bytes() == PAYLOAD and not (tmp_path / "corpus.tar.gz.part").exists()
    assert len(server.requests) == 1 and "Range" not in server.requests[0]
    download.download(server.url, dest, size=len(PAYLOAD), md5=MD5, progress=False)  # present, verified: no request
    assert len(server.requests) == 1


def test_download_resumes_a_truncated_part(server, tmp_path):
    (tmp_path / "corpus.tar.gz.part").write_bytes(PAYLOAD[:300_000])
    dest = download.download(server.url, tmp_path / "corpus.tar.gz", sha256=SHA256, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.requests[0]["Range"] == "bytes=300000-"


def test_download_retries_a_cut_connection_and_resumes(server, tmp_path):
    server.cut_after = 200_000
    dest = download.download(server.url, tmp_path / "corpus.tar.gz", md5=MD5, progress=False, retry_wait=0)
    assert dest.read_bytes() == PAYLOAD
    assert len(server.requests) == 2 and server.requests[1]["Range"] == "bytes=200000-"


def test_download_restarts_when_the_server_ignores_range(server, tmp_path):
    server.ignore_range = True
    (tmp_path / "corpus.tar.gz.part").write_bytes(b"x" * 1000)  # not even a prefix: must not be kept
    dest = download.download(server.url, tmp_path / "corpus.tar.gz", md5=MD5, progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_download_complete_part_gets_416_and_is_verified(server, tmp_path):
    (tmp_path / "corpus.tar.gz.part").write_bytes(PAYLOAD)
    dest = download.download(server.url, tmp_path / "corpus.tar.gz", md5=MD5, progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_download_refuses_a_wrong_checksum_and_keeps_nothing(server, tmp_path):
    with pytest.raises(download.DownloadError) as error:
        download.download(server.url, tmp_path / "corpus.tar.gz", md5="0" * 32, progress=False)
    assert server.url in str(error.value) and MD5 in str(error.value)
    assert not list(tmp_path.iterdir())
    with pytest.raises(download.DownloadError, match="bytes, expected 5"):
        download.download(server.url, tmp_path / "corpus.tar.gz", size=5, progress=False)
    assert not list(tmp_path.iterdir())


def test_download_replaces_a_corrupt_file_present(server, tmp_path):
    (tmp_path / "corpus.tar.gz").write_bytes(b"garbage")
    dest = download.download(server.url, tmp_path / "corpus.tar.gz", md5=MD5, progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_download_http_error_names_the_url(server, tmp_path):
    url = server.url.replace("corpus.tar.gz", "missing.tgz")
    with pytest.raises(download.DownloadError, match=f"{url}: HTTP 404"):
        download.download(url, tmp_path / "missing.tgz", progress=False)
    assert len(server.requests) == 1  # a 404 is not retried


def test_download_gives_up_and_keeps_the_part_for_later(tmp_path):
    url = "http://127.0.0.1:9/corpus.tar.gz"  # discard port: connection refused
    with pytest.raises(download.DownloadError, match="gave up after 1 retries"):
        download.download(url, tmp_path / "corpus.tar.gz", retries=1, retry_wait=0, progress=False, timeout=5)


def test_download_file_url_resumes(tmp_path):
    source = tmp_path / "mirror" / "corpus.tar.gz"
    source.parent.mkdir()
    source.write_bytes(PAYLOAD)
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "corpus.tar.gz.part").write_bytes(PAYLOAD[:12345])
    dest = download.download(source.as_uri(), tmp_path / "dl" / "corpus.tar.gz", sha256=SHA256, progress=False)
    assert dest.read_bytes() == PAYLOAD
    with pytest.raises(download.DownloadError, match="no such file"):
        download.download((tmp_path / "mirror" / "nope.tgz").as_uri(), tmp_path / "dl" / "nope.tgz", progress=False)


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_extract_tar_gz_and_zip_once(tmp_path):
    archive = tmp_path / "a.tgz"
    archive.write_bytes(_tar_gz({"top/x.txt": b"x", "top/sub/y.txt": b"y"}))
    target = tmp_path / "out"
    download.extract(archive, target)
    assert (target / "top" / "sub" / "y.txt").read_bytes() == b"y" and (target / ".a.tgz.extracted").is_file()
    (target / "top" / "x.txt").write_bytes(b"changed")
    download.extract(archive, target)  # marker: not extracted again
    assert (target / "top" / "x.txt").read_bytes() == b"changed"
    with zipfile.ZipFile(tmp_path / "b.zip", "w") as z:
        z.writestr("top/z.txt", "z")
    download.extract(tmp_path / "b.zip", target, remove_archive=True)
    assert (target / "top" / "z.txt").read_text() == "z" and not (tmp_path / "b.zip").exists()


def test_extract_refuses_unsafe_truncated_and_unknown_archives(tmp_path):
    (tmp_path / "evil.tgz").write_bytes(_tar_gz({"../evil.txt": b"x"}))
    with pytest.raises(download.DownloadError, match="refusing to extract '../evil.txt'"):
        download.extract(tmp_path / "evil.tgz", tmp_path / "out")
    data = _tar_gz({f"top/{i}.bin": os.urandom(20_000) for i in range(5)})
    (tmp_path / "cut.tgz").write_bytes(data[: len(data) - 5000])
    with pytest.raises(download.DownloadError, match="cut.tgz: extraction failed"):
        download.extract(tmp_path / "cut.tgz", tmp_path / "out2")
    assert not (tmp_path / "out2" / ".cut.tgz.extracted").exists()
    (tmp_path / "plain.txt").write_text("hello")
    with pytest.raises(download.DownloadError, match="not a tar"):
        download.extract(tmp_path / "plain.txt", tmp_path / "out3")


def test_fetch_skips_the_download_when_already_extracted(tmp_path):
    archive = download.Archive("http://127.0.0.1:9/corpus.tar.gz", md5=MD5)  # unreachable: must not be asked
    (tmp_path / ".corpus.tar.gz.extracted").write_text("corpus.tar.gz\n")
    assert download.fetch(archive, tmp_path, extract_to=tmp_path) == tmp_path


def test_fetch_cli_refuses_a_mirror_file_with_the_wrong_md5(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "dev-clean.tar.gz").write_bytes(_tar_gz({"LibriSpeech/dev-clean/README": b"not the corpus"}))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "recipes.librispeech.fetch",
            "--out",
            str(tmp_path / "dl"),
            "--parts",
            "dev-clean",
            "--mirror",
            mirror.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 1
    assert "md5" in result.stderr and "42e2234ba48799c1f50f24a7926300a1" in result.stderr
    assert not list((tmp_path / "dl").iterdir())  # neither the archive nor a .part is kept


def test_fetch_then_prepare_an4_from_a_file_mirror(tmp_path):
    build_an4(tmp_path / "src", shared_corpus("fsdd"))
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with tarfile.open(mirror / "an4_sphere.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "src" / "an4", arcname="an4")
    fetch = [sys.executable, "-m", "recipes.an4.fetch", "--out", str(tmp_path / "dl")]
    fetch += ["--mirror", mirror.as_uri()]
    result = subprocess.run(fetch, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "no checksum" in result.stderr and (tmp_path / "dl" / "an4" / "etc" / "an4_train.transcription").is_file()
    again = subprocess.run(fetch, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert again.returncode == 0 and "already extracted" in again.stderr
    splits = an4_prepare.prepare_an4(tmp_path / "dl", tmp_path / "out")
    assert sum(len(us) for us in splits.values()) == 8


def test_fetch_aishell1_unpacks_the_speaker_archives(tmp_path):
    build_aishell1(tmp_path / "src", shared_corpus("aishell1_sample"), packed=True)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with tarfile.open(mirror / "data_aishell.tgz", "w:gz") as tar:
        tar.add(tmp_path / "src" / "data_aishell", arcname="data_aishell")
    fetch = aishell1_fetch
    archives = {
        "data_aishell": download.Archive((mirror / "data_aishell.tgz").as_uri())
    }  # the real MD5 would not match
    assert (
        fetch.run_fetch(
            "aishell1", "", archives, ["data_aishell"], ["--out", str(tmp_path / "dl")], fetch.unpack_speakers
        )
        == 0
    )
    assert len(list((tmp_path / "dl" / "data_aishell" / "wav").glob("*/*/*.wav"))) == 8
    splits = aishell1_prepare.prepare_aishell1(tmp_path / "dl", tmp_path / "out")
    assert [len(splits[s]) for s in ("train", "dev", "test")] == [3, 2, 2]
