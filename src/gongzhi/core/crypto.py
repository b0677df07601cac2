"""Encryption and blind indexes for personal data (citizen ID and phone numbers).

Keys come from the environment or from files created on first run under var/keys/:

GONGZHI_PDATA_KEYS       comma-separated "id:base64key" AES-256 keys; the first one encrypts,
                         all of them decrypt (rotation: put the new key first)
GONGZHI_PDATA_INDEX_KEY  base64 HMAC key for blind indexes (changing it means re-indexing)

Ciphertext layout (base64 text): key id (1 byte) | nonce (12 bytes) | AES-GCM ciphertext+tag.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from gongzhi.core.keyfiles import load_or_create_secret


class KeyError_(Exception):  # noqa: N801 - avoid shadowing the builtin KeyError
    pass


def _b64key(text: str) -> bytes:
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if len(raw) != 32:
        raise KeyError_("personal-data keys must be 32 bytes (base64)")
    return raw


@functools.cache
def _keys() -> tuple[int, dict[int, AESGCM], bytes]:
    env_keys = os.environ.get("GONGZHI_PDATA_KEYS")
    keydir = settings.VAR_DIR / "keys"
    if env_keys:
        pairs = [item.split(":", 1) for item in env_keys.split(",") if item.strip()]
        keys = {int(kid): AESGCM(_b64key(k)) for kid, k in pairs}
        current = int(pairs[0][0])
    else:
        keys = {1: AESGCM(_b64key(load_or_create_secret(keydir / "pdata_key_1", 32)))}
        current = 1
    index_key = os.environ.get("GONGZHI_PDATA_INDEX_KEY") or load_or_create_secret(
        keydir / "pdata_index_key", 32
    )
    return current, keys, _b64key(index_key)


def reset_keys() -> None:
    """Forget cached keys (after the environment changed; used by tests)."""
    _keys.cache_clear()


def encrypt(plaintext: str, *, context: bytes = b"") -> str:
    current, keys, _ = _keys()
    nonce = secrets.token_bytes(12)
    ct = keys[current].encrypt(nonce, plaintext.encode(), context)
    return base64.b64encode(bytes([current]) + nonce + ct).decode()


def decrypt(token: str, *, context: bytes = b"") -> str:
    _, keys, _ = _keys()
    raw = base64.b64decode(token)
    kid, nonce, ct = raw[0], raw[1:13], raw[13:]
    if kid not in keys:
        raise KeyError_(f"no personal-data key with id {kid}")
    return keys[kid].decrypt(nonce, ct, context).decode()


INDEX_HEX_LENGTH = 32


def blind_index(value: str, *, purpose: str) -> str:
    """Keyed HMAC-SHA256 of a normalised value: equal values match, nothing can be read back.

    `purpose` separates index domains so the same number indexed as a phone and as an ID differ.
    """
    _, _, index_key = _keys()
    # 128 bits are plenty against collisions and keep the indexes half the size.
    return hmac.new(index_key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()[
        :INDEX_HEX_LENGTH
    ]
