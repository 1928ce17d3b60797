"""The certificate bucket: each version written once (conditional put), downloads by presigned URL."""

from __future__ import annotations

import hashlib

from botocore.exceptions import ClientError

from cme.adapters.aws import client
from cme.config import settings


def put_once(key: str, data: bytes, content_type: str = "application/pdf") -> str:
    """Store `data` at `key` unless something is there already; the SHA-256 of what the key holds."""
    s3 = client("s3")
    try:
        s3.put_object(
            Bucket=settings().certificate_bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            IfNoneMatch="*",
            ChecksumAlgorithm="SHA256",
        )
        return hashlib.sha256(data).hexdigest()
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            raise
    return hashlib.sha256(get(key)).hexdigest()


def put(key: str, data: bytes, content_type: str) -> str:
    """Store (or replace) `data` at `key`; its SHA-256. For provider branding images, not certificates."""
    client("s3").put_object(
        Bucket=settings().certificate_bucket, Key=key, Body=data, ContentType=content_type, ChecksumAlgorithm="SHA256"
    )
    return hashlib.sha256(data).hexdigest()


def get(key: str) -> bytes:
    response = client("s3").get_object(Bucket=settings().certificate_bucket, Key=key)
    return bytes(response["Body"].read())


def presigned_url(key: str, filename: str) -> str:
    return str(
        client("s3").generate_presigned_url(
            "get_object",
            Params={
                "Bucket": settings().certificate_bucket,
                "Key": key,
                "ResponseContentType": "application/pdf",
                "ResponseContentDisposition": f'inline; filename="{filename}"',
            },
            ExpiresIn=settings().download_url_seconds,
        )
    )
