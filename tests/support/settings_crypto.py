#!/usr/bin/env python3
"""tests/support/settings_crypto.py - the encrypted-settings format of AlexClaw, written independently of the C code.

    SECRET_KEY_BASE=... settings_crypto.py encrypt VALUE    prints "enc:" + base64(IV || ciphertext || tag)
    SECRET_KEY_BASE=... settings_crypto.py decrypt VALUE    prints the plaintext

key = HKDF-SHA256(IKM = SECRET_KEY_BASE, salt = 32 zero bytes, info = "AlexClaw.Config.Crypto", L = 32);
AES-256-GCM with a random 12-byte IV, empty AAD and a 16-byte tag. As in the original, "" is never encrypted and a
value without the "enc:" prefix decrypts to itself. The key base comes from the environment only, never argv, so it
does not show in the process list. Uses Debian's python3-cryptography. Exits 1 with a message on failure.
"""
import base64
import binascii
import os
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = b"enc:"
INFO = b"AlexClaw.Config.Crypto"
IV_LEN = 12
TAG_LEN = 16
MIN_SECRET_LEN = 32


class Failure(Exception):
    pass


def derive_key(secret_key_base: bytes) -> bytes:
    if len(secret_key_base) < MIN_SECRET_LEN:
        raise Failure("SECRET_KEY_BASE too short (need >= %d bytes)" % MIN_SECRET_LEN)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"\0" * 32, info=INFO).derive(secret_key_base)


def encrypt(key: bytes, plain: bytes) -> bytes:
    if plain == b"":
        return b""
    iv = os.urandom(IV_LEN)
    return PREFIX + base64.b64encode(iv + AESGCM(key).encrypt(iv, plain, b""))


def decrypt(key: bytes, stored: bytes) -> bytes:
    if not stored.startswith(PREFIX):
        return stored
    encoded = stored[len(PREFIX):]
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise Failure("invalid base64")
    # b64decode ignores non-zero trailing bits; the format has one spelling per value, so insist on it.
    if base64.b64encode(raw) != encoded:
        raise Failure("invalid base64")
    if len(raw) < IV_LEN + TAG_LEN:
        raise Failure("invalid ciphertext")
    try:
        return AESGCM(key).decrypt(raw[:IV_LEN], raw[IV_LEN:], b"")
    except InvalidTag:
        raise Failure("decryption failed")


def main(argv):
    if len(argv) != 3 or argv[1] not in ("encrypt", "decrypt"):
        sys.stderr.write("usage: SECRET_KEY_BASE=... %s encrypt|decrypt VALUE\n" % argv[0])
        return 2
    skb = os.environ.get("SECRET_KEY_BASE")
    if skb is None:
        sys.stderr.write("settings_crypto: SECRET_KEY_BASE is not set\n")
        return 1
    # Bytes as given (os.fsencode undoes Python's decoding of argv and environ), so any UTF-8 round-trips exactly.
    value = os.fsencode(argv[2])
    try:
        key = derive_key(os.fsencode(skb))
        result = encrypt(key, value) if argv[1] == "encrypt" else decrypt(key, value)
    except Failure as e:
        sys.stderr.write("settings_crypto: %s\n" % e)
        return 1
    sys.stdout.buffer.write(result + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
