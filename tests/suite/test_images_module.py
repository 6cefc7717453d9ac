"""bakeoff.suite.images on real image files: what a usable image is recorded as (type, size,
sha256 of its bytes), what makes one unusable (a format other than PNG/JPEG/WebP, a file over the
size limit: an error for its case only, the sha256 still known), and where a suite may attach
images (exit 2 at the line otherwise). tests/suite/test_images.py sends them through each backend."""

from __future__ import annotations

import hashlib

import pytest
from PIL import Image

from bakeoff.errors import InputError
from bakeoff.suite.images import MAX_BYTES, ImageProblem, check_image
from bakeoff.suite.loader import parse_suite


@pytest.mark.parametrize("fmt, suffix, mime", [("PNG", "png", "image/png"), ("JPEG", "jpg", "image/jpeg"),
                                               ("WEBP", "webp", "image/webp")])
def test_a_usable_image_is_recorded_with_its_type_size_and_hash(tmp_path, fmt, suffix, mime):
    path = tmp_path / f"cat.{suffix}"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(path, fmt)
    ref = check_image(path, f"img/cat.{suffix}")
    assert (ref.mime, ref.width, ref.height) == (mime, 64, 48)
    assert ref.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() and ref.bytes == path.stat().st_size
    assert ref.to_dict()["as_written"] == f"img/cat.{suffix}"


def test_a_gif_is_refused_with_its_hash(tmp_path):
    path = tmp_path / "anim.gif"
    Image.new("P", (8, 8)).save(path, "GIF")
    with pytest.raises(ImageProblem, match="image anim.gif: GIF is not supported") as caught:
        check_image(path, "anim.gif")
    assert caught.value.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path):
    path = tmp_path / "big.png"
    with open(path, "wb") as f:
        f.truncate(MAX_BYTES + 1)  # sparse: no need to write 20 MiB
    with pytest.raises(ImageProblem, match=r"big.png: 20.0 MiB is over the 20 MiB limit") as caught:
        check_image(path, "big.png")
    assert len(caught.value.sha256) == 64


def test_a_bad_image_fails_its_case_only_and_a_good_one_is_attached(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "ok.png")
    (tmp_path / "bad.png").write_bytes(b"not an image at all")
    suite = parse_suite("cases:\n  - id: good\n    prompt: Describe.\n    images: [ok.png]\n"
                        "  - id: bad\n    prompt: Describe.\n    images: [bad.png]\n", "s.yaml", base_dir=tmp_path)
    good, bad = suite.cases
    (image,) = good.messages[-1]["images"]
    assert image["mime"] == "image/png" and image["as_written"] == "ok.png"
    (broken,) = bad.messages[-1]["images"]
    assert "bad.png: not an image file" in broken["problem"]


@pytest.mark.parametrize("body, line, phrase", [
    ("    messages:\n      - {role: user, content: hi}\n      - role: assistant\n        content: ok\n"
     "        images: [ok.png]\n      - {role: user, content: more}\n", 7,
     "images attach to user messages, not 'assistant'"),
    ("    turns: [hi, again]\n    images: [ok.png]\n", 4, "conversation cases ('turns', 'probe') take none"),
    ("    prompt: hi\n    images: []\n", 4, "'images' is empty"),
])
def test_images_where_a_suite_cannot_put_them(tmp_path, body, line, phrase):
    Image.new("RGB", (4, 4)).save(tmp_path / "ok.png")
    with pytest.raises(InputError) as caught:
        parse_suite("cases:\n  - id: c\n" + body, "s.yaml", base_dir=tmp_path)
    assert phrase in caught.value.message and caught.value.line == line, (caught.value.line, caught.value.message)
