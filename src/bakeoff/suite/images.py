"""Images attached to a user turn: checked with Pillow when the suite loads, identified by the
sha256 of their bytes; each backend sends them in its own wire format (bakeoff.util.images).

A missing file is a mistake in the suite (exit 2, file and line). A file that is there but cannot
be used (truncated, not an image, a format other than PNG/JPEG/WebP, too many pixels, too large)
is an error for that case only: the case's trials are recorded as errors with the reason and the
run goes on.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bakeoff.suite.loader import SuiteLoader
    from bakeoff.suite.schema import CaseModel

MAX_BYTES = 20 * 2**20
# Well above any budget's resize target (Gemma 4 at 1120 tokens: about 1.0 MP) and below Pillow's
# decompression-bomb limit (178 MP): a 20,000 x 20,000 image (400 MP) is refused from its header,
# before any pixel is decoded.
MAX_PIXELS = 50_000_000
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


class ImageProblem(Exception):
    """The file is there but cannot be sent as an image (the case fails, the run goes on). It
    carries the file's sha256, which still identifies the case."""

    sha256: str = ""


@dataclass(frozen=True)
class ImageRef:
    path: str  # absolute
    as_written: str  # relative to the suite file, as the author wrote it
    mime: str
    sha256: str
    width: int
    height: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pillow():
    try:
        from PIL import Image
    except ImportError:
        from bakeoff.errors import InputError

        raise InputError("images in cases need Pillow: pip install 'bakeoff[vision]'") from None
    return Image


def check_image(path: Path, as_written: str) -> ImageRef:
    """Open and fully decode the image; raise ImageProblem saying what is wrong with it."""
    Image = pillow()
    size = path.stat().st_size
    if size > MAX_BYTES:  # hashed as a stream, never read whole
        from bakeoff.models.packaged import stream_sha256

        problem = ImageProblem(f"image {as_written}: {size / 2**20:.1f} MiB is over the {MAX_BYTES // 2**20} MiB limit")
        problem.sha256 = stream_sha256(path)
        raise problem
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        fmt, width, height = _decode(Image, data, as_written)
    except ImageProblem as problem:
        problem.sha256 = sha256
        raise
    return ImageRef(path=str(path), as_written=as_written, mime=FORMATS[fmt], sha256=sha256, width=width,
                    height=height, bytes=size)


def _decode(Image, data: bytes, as_written: str) -> tuple[str, int, int]:
    """Format and size of a fully decoded image, or ImageProblem."""
    import io
    import warnings

    from PIL import UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = img.format
            width, height = img.size
            if fmt not in FORMATS:
                raise ImageProblem(f"image {as_written}: {fmt} is not supported (PNG, JPEG or WebP)")
            if width * height > MAX_PIXELS:
                raise ImageProblem(f"image {as_written}: {width} x {height} pixels is over the "
                                   f"{MAX_PIXELS // 1_000_000} megapixel limit")
            img.load()  # decodes every pixel: a truncated file fails here
    except ImageProblem:
        raise
    except UnidentifiedImageError:
        raise ImageProblem(f"image {as_written}: not an image file (Pillow cannot identify it; PNG, JPEG or "
                           "WebP expected)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageProblem(f"image {as_written}: too many pixels, refused before decoding (at most "
                           f"{MAX_PIXELS // 1_000_000} megapixels; Pillow: {exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageProblem(f"image {as_written}: cannot be decoded ({exc})") from None
    return fmt, width, height


def attach_images(doc: SuiteLoader, cm: CaseModel, convo: list[dict[str, Any]], loc: tuple[Any, ...]) -> str | None:
    """Check the case's images and put them on their user messages; return why one of them
    cannot be sent (an error for this case only), or None. A missing file is an InputError."""
    wanted: list[tuple[int, list[str], tuple[Any, ...]]] = []  # (message index, paths, location)
    if cm.images is not None:
        if cm.turns is not None or cm.probe is not None:
            raise doc.fail(loc + ("images",), "images attach to 'prompt' or to a user message in 'messages'; "
                           "conversation cases ('turns', 'probe') take none", at_key=True)
        last_user = max(i for i, m in enumerate(convo) if m["role"] == "user")
        wanted.append((last_user, cm.images, loc + ("images",)))
    for j, m in enumerate(cm.messages or []):
        if m.images is not None:
            if m.role != "user":
                raise doc.fail(loc + ("messages", j, "images"), f"images attach to user messages, not {m.role!r}",
                               at_key=True)
            wanted.append((j, m.images, loc + ("messages", j, "images")))
    error = None
    for index, paths, iloc in wanted:
        if not paths:
            raise doc.fail(iloc, "'images' is empty; list image files or leave it out")
        refs = []
        for k, written in enumerate(paths):
            path = (doc.base_dir or Path.cwd()) / written
            if not path.is_file():
                raise doc.fail(iloc + (k,), f"image file {written!r} not found (looked for {path})")
            try:
                refs.append(check_image(path.resolve(), written).to_dict())
            except ImageProblem as exc:
                error = error or str(exc)
                refs.append({"path": str(path.resolve()), "as_written": written, "sha256": exc.sha256,
                             "problem": str(exc)})
        convo[index]["images"] = convo[index].get("images", []) + refs
    return error

