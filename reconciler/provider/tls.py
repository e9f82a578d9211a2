"""The provider's TLS material: a fresh self-signed ECDSA P-256 certificate per start, for the
go-plugin handshake (Terraform trusts the certificate printed in the handshake line).

Terraform starts the provider three times a plan, so this must be cheap: the certificate is one
fixed X.509 v3 layout, written here as DER directly (a key, two names, a day's validity, CA and
server/client-auth usages, ``localhost``), and only the elliptic-curve primitives of
``cryptography`` are loaded (its ``x509`` package costs more to import than the rest of the
handshake, and its OpenSSL backend module, which ``ECDSA()`` imports, about 15 ms: see
:func:`_ecdsa_sha256`). Must not write anything to disk.
"""

from __future__ import annotations

import base64
import datetime
import os
from typing import Any

# Object identifiers, DER-encoded (tag 0x06 included).
_ECDSA_WITH_SHA256 = bytes.fromhex("06082a8648ce3d040302")
_EC_PUBLIC_KEY = bytes.fromhex("06072a8648ce3d0201")
_PRIME256V1 = bytes.fromhex("06082a8648ce3d030107")
_COMMON_NAME = bytes.fromhex("0603550403")
_ORGANIZATION = bytes.fromhex("060355040a")
_BASIC_CONSTRAINTS = bytes.fromhex("0603551d13")
_KEY_USAGE = bytes.fromhex("0603551d0f")
_EXTENDED_KEY_USAGE = bytes.fromhex("0603551d25")
_SUBJECT_ALT_NAME = bytes.fromhex("0603551d11")
_SERVER_AUTH = bytes.fromhex("06082b06010505070301")
_CLIENT_AUTH = bytes.fromhex("06082b06010505070302")
_TRUE = bytes.fromhex("0101ff")
_KEY_USAGES = bytes.fromhex("030202ac")
"""digitalSignature, keyEncipherment, keyAgreement, keyCertSign (named bits 0, 2, 4, 5)."""


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


def _seq(*parts: bytes) -> bytes:
    return _der(0x30, b"".join(parts))


def _utc(when: datetime.datetime) -> bytes:
    return _der(0x17, when.strftime("%y%m%d%H%M%SZ").encode())


def _name(common_name: str, organization: str) -> bytes:
    return _seq(_der(0x31, _seq(_COMMON_NAME, _der(0x0C, common_name.encode()))),
                _der(0x31, _seq(_ORGANIZATION, _der(0x0C, organization.encode()))))


def _extension(oid: bytes, value: bytes, critical: bool) -> bytes:
    return _seq(oid, *((_TRUE,) if critical else ()), _der(0x04, value))


def tbs_certificate(public_point: bytes, serial: bytes, now: datetime.datetime) -> bytes:
    """The to-be-signed part of the certificate for the uncompressed P-256 point ``public_point``."""
    name = _name("localhost", "poolform")
    extensions = _seq(
        _extension(_BASIC_CONSTRAINTS, _seq(_TRUE), critical=True),
        _extension(_KEY_USAGE, _KEY_USAGES, critical=True),
        _extension(_EXTENDED_KEY_USAGE, _seq(_SERVER_AUTH, _CLIENT_AUTH), critical=False),
        _extension(_SUBJECT_ALT_NAME, _seq(_der(0x82, b"localhost")), critical=False),
    )
    return _seq(
        _der(0xA0, _der(0x02, b"\x02")),  # version 3
        _der(0x02, serial),
        _seq(_ECDSA_WITH_SHA256),
        name,
        _seq(_utc(now - datetime.timedelta(minutes=1)), _utc(now + datetime.timedelta(days=1))),
        name,
        _seq(_seq(_EC_PUBLIC_KEY, _PRIME256V1), _der(0x03, b"\x00" + public_point)),
        _der(0xA3, extensions),
    )


def private_key_der(private_value: int, public_point: bytes) -> bytes:
    """The key as PKCS#8 (RFC 5208) holding an RFC 5915 ``ECPrivateKey`` with its public point."""
    ec_key = _seq(_der(0x02, b"\x01"), _der(0x04, private_value.to_bytes(32, "big")),
                  _der(0xA1, _der(0x03, b"\x00" + public_point)))
    return _seq(_der(0x02, b"\x00"), _seq(_EC_PUBLIC_KEY, _PRIME256V1), _der(0x04, ec_key))


def _pem(label: str, der: bytes) -> bytes:
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = b"\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return b"-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label.encode(), lines, label.encode())


def _ecdsa_sha256() -> Any:
    """``ec.ECDSA(hashes.SHA256())`` without running its ``__init__``, which imports cryptography's
    whole OpenSSL backend module (RSA, padding, ciphers: about 15 ms of every start) only to check
    that deterministic signing, not asked for here, is supported. The object holds what
    ``__init__`` would set; :func:`_sign` falls back to the constructor if this version of
    cryptography reads something else."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    algorithm = object.__new__(ec.ECDSA)
    algorithm.__dict__.update(_algorithm=hashes.SHA256(), _deterministic_signing=False)
    return algorithm


def _sign(key: Any, data: bytes) -> bytes:
    """An ECDSA-with-SHA-256 signature of ``data`` (DER). The tests check it with cryptography's own
    ``ECDSA(SHA256())`` on the certificate the handshake path prints."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        return key.sign(data, _ecdsa_sha256())
    except (AttributeError, TypeError):  # a cryptography that reads something else: the documented way
        return key.sign(data, ec.ECDSA(hashes.SHA256()))


def certificate() -> tuple[bytes, bytes, bytes]:
    """A fresh key and self-signed certificate: (key PEM, certificate PEM, certificate DER)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    key: Any = ec.generate_private_key(ec.SECP256R1())
    numbers = key.private_numbers()
    point = b"\x04" + numbers.public_numbers.x.to_bytes(32, "big") + numbers.public_numbers.y.to_bytes(32, "big")
    serial = bytearray(os.urandom(16))
    serial[0] = (serial[0] & 0x7F) | 0x40  # positive, and no leading zero byte to strip
    tbs = tbs_certificate(point, bytes(serial), datetime.datetime.now(datetime.timezone.utc))
    der = _seq(tbs, _seq(_ECDSA_WITH_SHA256), _der(0x03, b"\x00" + _sign(key, tbs)))
    return _pem("PRIVATE KEY", private_key_der(numbers.private_value, point)), _pem("CERTIFICATE", der), der
