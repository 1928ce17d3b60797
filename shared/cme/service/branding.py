"""Provider branding on certificates: the logo and signature images an organizer uploads (PNG or
JPEG, checked and size-limited), kept beside the certificates, and read back by the issuer."""

from __future__ import annotations

import io
from typing import Any

from cme import clock
from cme.adapters import blobs, store
from cme.cache import per_batch
from cme.errors import NotFound, PayloadTooLarge, Unprocessable, UnsupportedMediaType

KINDS = ("logo", "signature")
MAX_BYTES = 512 * 1024
MAX_PIXELS = 4096 * 4096
TYPES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise NotFound(f"no branding image {kind!r}: use logo or signature")


def upload(activity_id: str, kind: str, data: bytes, content_type: str) -> dict[str, Any]:
    _check_kind(kind)
    if content_type not in TYPES:
        raise UnsupportedMediaType(f"send image/png or image/jpeg, not {content_type or 'nothing'}")
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge(f"an image may be at most {MAX_BYTES // 1024} KB")
    if not data.startswith(TYPES[content_type]):
        raise Unprocessable(
            "the body is not the image its content type says", [{"field": "body", "message": content_type}]
        )
    width, height = _dimensions(data)
    key = f"branding/{activity_id}/{kind}"
    sha256 = blobs.put(key, data, content_type)
    record = {
        "s3_key": key,
        "sha256": sha256,
        "content_type": content_type,
        "width": width,
        "height": height,
        "size": len(data),
        "uploaded_at": clock.iso(clock.now()),
    }
    store.put_branding_image(activity_id, kind, record)
    return {"kind": kind, **record}


def _dimensions(data: bytes) -> tuple[int, int]:
    """The image's size, after checking it decodes; a decompression bomb is refused, never decoded."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise Unprocessable(
                        "the image is too large", [{"field": "body", "message": f"{width}x{height} pixels"}]
                    )
                image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Unprocessable("the image is too large", [{"field": "body", "message": "too many pixels"}]) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise Unprocessable("the image cannot be read", [{"field": "body", "message": "not a valid image"}]) from exc
    return width, height


def remove(activity_id: str, kind: str) -> None:
    _check_kind(kind)
    if not store.delete_branding_image(activity_id, kind):
        raise NotFound(f"no {kind} image for this activity")


def listing(activity_id: str) -> dict[str, Any]:
    images = store.branding_images(activity_id)
    return {
        "images": {
            kind: {k: images[kind][k] for k in ("sha256", "content_type", "width", "height", "size", "uploaded_at")}
            for kind in KINDS
            if kind in images
        }
    }


@per_batch
def images_for_certificate(activity_id: str) -> dict[str, bytes]:
    """kind -> image bytes, for the issuer (one query, and one GET per image uploaded, once per batch)."""
    return {kind: blobs.get(str(item["s3_key"])) for kind, item in store.branding_images(activity_id).items()}
