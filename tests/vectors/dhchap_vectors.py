#!/usr/bin/env python3
"""Known-answer vectors for DH-HMAC-CHAP (reference nvme-tcp.md section 5), computed without our C# code.

Hashes and HMACs come from Python's hashlib/hmac, the RFC 7919 primes from OpenSSL's built-in groups
(`openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdheN`), modular exponentiation from Python's
pow(). When nvme-cli is installed, its `gen-dhchap-key` output for the same secrets is printed as well.
The printed values are pasted into tests/NvmeMptls.Tests/Crypto/DhChapVectorTests.cs.

Run: python3 tests/vectors/dhchap_vectors.py
"""
import base64
import hashlib
import hmac
import shutil
import struct
import subprocess
import zlib

HOSTNQN = "nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
SUBNQN = "nqn.2024-01.io.example:subsys1"
HASHES = {1: hashlib.sha256, 2: hashlib.sha384, 3: hashlib.sha512}
GROUPS = {1: 2048, 2: 3072, 3: 4096, 4: 6144, 5: 8192}


def secret(length):
    return bytes(range(length))


def interchange(hh, key):
    raw = key + struct.pack("<I", zlib.crc32(key) & 0xFFFFFFFF)
    return f"DHHC-1:{hh:02x}:{base64.b64encode(raw).decode()}:"


def transform(hh, key, nqn):
    if hh == 0:
        return key
    return hmac.new(key, nqn.encode() + b"NVMe-over-Fabrics", HASHES[hh]).digest()


def host_response(h, key, challenge, seq, tid, scc):
    data = challenge + struct.pack("<IHB", seq, tid, scc) + b"HostHost" + HOSTNQN.encode() + b"\0" + SUBNQN.encode()
    return hmac.new(key, data, HASHES[h]).digest()


def ctrl_response(h, key, challenge, seq, tid):
    data = challenge + struct.pack("<IHB", seq, tid, 0) + b"Controller" + SUBNQN.encode() + b"\0" + HOSTNQN.encode()
    return hmac.new(key, data, HASHES[h]).digest()


def augmented(h, session_key, challenge):
    return hmac.new(HASHES[h](session_key).digest(), challenge, HASHES[h]).digest()


def der_integers(der):
    """The INTEGERs of a DER SEQUENCE (enough for DHParameter ::= SEQUENCE { p INTEGER, g INTEGER })."""
    def length(buf, i):
        n = buf[i]
        if n < 0x80:
            return n, i + 1
        k = n & 0x7F
        return int.from_bytes(buf[i + 1:i + 1 + k], "big"), i + 1 + k
    assert der[0] == 0x30
    _, i = length(der, 1)
    out = []
    while i < len(der) and der[i] == 0x02:
        n, j = length(der, i + 1)
        out.append(int.from_bytes(der[j:j + n], "big"))
        i = j + n
    return out


def ffdhe_prime(bits):
    pem = subprocess.run(["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", f"group:ffdhe{bits}"],
                         check=True, capture_output=True, text=True).stdout
    der = base64.b64decode("".join(line for line in pem.splitlines() if not line.startswith("-----")))
    p, g = der_integers(der)[:2]
    assert g == 2
    return p


def main():
    print("# interchange strings (untransformed secret 00..N-1)")
    for length in (32, 48, 64):
        print(f"interchange len={length} hh=00: {interchange(0, secret(length))}")
    print("# nvme-cli 2.x convention: gen-dhchap-key --hmac=N writes HMAC(secret, nqn || 'NVMe-over-Fabrics')")
    for hh, length in ((1, 32), (2, 48), (3, 64)):
        print(f"gen hh={hh:02d} len={length}: {interchange(hh, transform(hh, secret(length), HOSTNQN))}")
    if shutil.which("nvme"):
        for hh, length in ((0, 32), (1, 32), (2, 48), (3, 64)):
            hexsecret = secret(length).hex()
            out = subprocess.run(["nvme", "gen-dhchap-key", f"--secret={hexsecret}", f"--nqn={HOSTNQN}",
                                  f"--hmac={hh}", f"--key-length={length}"], capture_output=True, text=True)
            print(f"nvme-cli gen hh={hh:02d} len={length}: {out.stdout.strip()} {out.stderr.strip()}")

    print("# transformed keys (consumer side): secret 00..31, hash = XX")
    for hh in (1, 2, 3):
        print(f"transform hh={hh:02d} host: {transform(hh, secret(32), HOSTNQN).hex()}")
        print(f"transform hh={hh:02d} subsys: {transform(hh, secret(32), SUBNQN).hex()}")

    print("# responses: key = transform(hh, secret(32), nqn), challenge[i] = 0x80 + i, seq 0x01020304, tid 0xBEEF")
    for h in (1, 2, 3):
        hl = HASHES[h]().digest_size
        challenge = bytes((0x80 + i) & 0xFF for i in range(hl))
        hkey = transform(h, secret(32), HOSTNQN)
        ckey = transform(h, secret(32), SUBNQN)
        print(f"R1 h={h} scc=0: {host_response(h, hkey, challenge, 0x01020304, 0xBEEF, 0).hex()}")
        print(f"R1 h={h} scc=2: {host_response(h, hkey, challenge, 0x01020304, 0xBEEF, 2).hex()}")
        print(f"R2 h={h}: {ctrl_response(h, ckey, challenge, 0x01020304, 0xBEEF).hex()}")
        session = bytes(range(256))
        print(f"augmented h={h} ks=00..ff: {augmented(h, session, challenge).hex()}")

    print("# FFDHE: x = int(sha256('host-N')), y = int(sha256('ctrl-N')) (short exponents)")
    for gid, bits in GROUPS.items():
        p = ffdhe_prime(bits)
        size = bits // 8
        x = int.from_bytes(hashlib.sha256(f"host-{bits}".encode()).digest(), "big")
        y = int.from_bytes(hashlib.sha256(f"ctrl-{bits}".encode()).digest(), "big")
        gx = pow(2, x, p).to_bytes(size, "big")
        gy = pow(2, y, p).to_bytes(size, "big")
        ks = pow(int.from_bytes(gy, "big"), x, p).to_bytes(size, "big")
        assert ks == pow(int.from_bytes(gx, "big"), y, p).to_bytes(size, "big")
        print(f"ffdhe{bits} p-sha256: {hashlib.sha256(p.to_bytes(size, 'big')).hexdigest()}")
        print(f"ffdhe{bits} x: {x:064x}")
        print(f"ffdhe{bits} y: {y:064x}")
        print(f"ffdhe{bits} gx-sha256: {hashlib.sha256(gx).hexdigest()}")
        print(f"ffdhe{bits} ks-sha256: {hashlib.sha256(ks).hexdigest()}")
        if bits == 2048:
            print(f"ffdhe2048 gx: {gx.hex()}")
            print(f"ffdhe2048 gy: {gy.hex()}")
            print(f"ffdhe2048 ks: {ks.hex()}")


if __name__ == "__main__":
    main()
