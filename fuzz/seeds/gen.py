#!/usr/bin/env python3
"""Write the seed corpus under fuzz/corpus/<target>/ (docs/FUZZING.md).

Valid seeds are named `valid-*`, refused ones `invalid-*`: tests/fuzz_corpus.rs checks that
each is judged so (regression inputs from crashes are `crash-*` and only must not panic).
Needs python3 and the openssl CLI only. Keys are fresh on every run; the OCSP issuer is the
fixed test CA in this directory (ca.pem; its key was discarded), whose certificate src/fuzzing.rs embeds.
"""
import base64, json, os, subprocess, tempfile, urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "corpus")
TMP = tempfile.mkdtemp()
URL = "https://acme.hanko-ci.com/acme/new-account"


def run(*args, data=None):
    return subprocess.run(args, input=data, capture_output=True, check=True).stdout


def tmp(name, data=None):
    path = os.path.join(TMP, name)
    if data is not None:
        with open(path, "wb") as f:
            f.write(data)
    return path


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---------- keys and JWS signing ----------
class Key:
    def __init__(self, kind):
        self.kind = kind
        self.path = tmp(f"{kind}.key")
        if kind == "ES256":
            run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", self.path)
            pub = run("openssl", "pkey", "-in", self.path, "-pubout", "-outform", "DER")[-65:]
            self.jwk = {"crv": "P-256", "kty": "EC", "x": b64u(pub[1:33]), "y": b64u(pub[33:])}
        elif kind == "EdDSA":
            run("openssl", "genpkey", "-algorithm", "ed25519", "-out", self.path)
            pub = run("openssl", "pkey", "-in", self.path, "-pubout", "-outform", "DER")[-32:]
            self.jwk = {"crv": "Ed25519", "kty": "OKP", "x": b64u(pub)}
        else:
            run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", self.path)
            mod = run("openssl", "rsa", "-in", self.path, "-noout", "-modulus").decode().strip().split("=")[1]
            self.jwk = {"e": "AQAB", "kty": "RSA", "n": b64u(bytes.fromhex(mod))}

    def sign(self, msg):
        m = tmp("msg", msg)
        if self.kind == "EdDSA":
            return run("openssl", "pkeyutl", "-sign", "-inkey", self.path, "-rawin", "-in", m)
        sig = run("openssl", "dgst", "-sha256", "-sign", self.path, m)
        if self.kind == "RS256":
            return sig
        # ECDSA: DER SEQUENCE { r INTEGER, s INTEGER } -> r || s, 32 octets each (RFC 7518 3.4).
        i = 2 if sig[1] < 0x80 else 3
        out = b""
        for _ in range(2):
            n = sig[i + 1]
            out += int.from_bytes(sig[i + 2:i + 2 + n], "big").to_bytes(32, "big")
            i += 2 + n
        return out


def jws(key, payload, header_extra=None, use_kid=None, url=URL, nonce="bm9uY2U"):
    header = {"alg": key.kind, "url": url}
    if nonce is not None:
        header["nonce"] = nonce
    if use_kid:
        header["kid"] = use_kid
    else:
        header["jwk"] = key.jwk
    header.update(header_extra or {})
    protected = b64u(json.dumps(header, separators=(",", ":")).encode())
    payload = b64u(payload) if payload else ""
    sig = key.sign(f"{protected}.{payload}".encode())
    return {"protected": protected, "payload": payload, "signature": b64u(sig)}


def dump(obj):
    return json.dumps(obj, separators=(",", ":"))


def jws_seeds():
    es, ed, rs = Key("ES256"), Key("EdDSA"), Key("RS256")
    account = dump({"termsOfServiceAgreed": True, "contact": ["mailto:ops@hanko-ci.com"]}).encode()
    write("jws", "valid-es256-new-account.json", dump(jws(es, account)))
    write("jws", "valid-eddsa-new-account.json", dump(jws(ed, account)))
    write("jws", "valid-rs256-new-account.json", dump(jws(rs, account)))
    kid = "https://acme.hanko-ci.com/acme/acct/7Qd3k2"
    order = dump({"identifiers": [{"type": "dns", "value": "www.hanko-ci.com"}]}).encode()
    write("jws", "valid-kid-new-order.json", dump(jws(es, order, use_kid=kid)))
    write("jws", "valid-kid-post-as-get.json", dump(jws(es, b"", use_kid=kid)))
    key_change_url = "https://acme.hanko-ci.com/acme/key-change"
    inner = jws(ed, dump({"account": kid, "oldKey": es.jwk}).encode(), url=key_change_url, nonce=None)
    write("jws", "valid-kid-key-change.json", dump(jws(es, dump(inner).encode(), use_kid=kid, url=key_change_url)))
    good = jws(es, account)
    bad_sig = dict(good, signature=good["signature"][:-4] + ("AAAA" if not good["signature"].endswith("AAAA") else "BBBB"))
    write("jws", "invalid-bad-signature.json", dump(bad_sig))
    write("jws", "invalid-compact.txt", f'{good["protected"]}.{good["payload"]}.{good["signature"]}')
    write("jws", "invalid-alg-none.json", dump(dict(good, protected=b64u(b'{"alg":"none","url":"x","nonce":"n","jwk":{}}'))))
    write("jws", "invalid-alg-hs256.json", dump(jws(es, account, {"alg": "HS256"})))
    write("jws", "invalid-crit.json", dump(jws(es, account, {"crit": ["b64"], "b64": False})))
    write("jws", "invalid-jwk-and-kid.json", dump(jws(es, account, {"kid": kid})))
    write("jws", "invalid-private-jwk.json", dump(jws(es, account, {"jwk": dict(es.jwk, d="AAAA")})))
    write("jws", "invalid-unprotected-header.json", dump(dict(good, header={"kid": kid})))
    write("jws", "invalid-duplicate-member.json",
          '{"protected":"%s","protected":"%s","payload":"%s","signature":"%s"}'
          % (good["protected"], good["protected"], good["payload"], good["signature"]))
    write("jws", "invalid-padded-base64.json", dump(dict(good, payload=good["payload"] + "==")))
    write("jws", "invalid-truncated.json", dump(good)[:70])
    write("jws", "invalid-empty.json", "")


# ---------- CSRs ----------
def csr(keyspec, subject, sans, name):
    key = tmp(name + ".key")
    if keyspec.startswith("rsa"):
        run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:" + keyspec[3:], "-out", key)
    elif keyspec == "ed25519":
        run("openssl", "genpkey", "-algorithm", "ed25519", "-out", key)
    else:
        run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:" + keyspec, "-out", key)
    args = ["openssl", "req", "-new", "-key", key, "-subj", subject, "-outform", "DER"]
    if sans:
        args += ["-addext", "subjectAltName=" + sans]
    write("csr", name, run(*args))


def csr_seeds():
    both = "DNS:hanko-ci.com,DNS:www.hanko-ci.com"
    csr("rsa2048", "/CN=www.hanko-ci.com", both, "valid-rsa2048.der")
    csr("P-256", "/CN=hanko-ci.com", both, "valid-p256.der")
    csr("P-384", "/", "DNS:WWW.Hanko-CI.com,DNS:hanko-ci.com", "valid-p384-mixed-case.der")
    csr("P-256", "/CN=www.hanko-ci.com", "DNS:www.hanko-ci.com", "invalid-missing-name.der")
    csr("P-256", "/CN=api.hanko-ci.com", both, "invalid-extra-cn.der")
    csr("P-256", "/", both + ",IP:192.0.2.7", "invalid-ip-san.der")
    csr("P-256", "/", both + ",email:ops@hanko-ci.com", "invalid-email-san.der")
    csr("ed25519", "/", both, "invalid-ed25519-key.der")
    csr("rsa1024", "/", both, "invalid-rsa1024.der")
    csr("P-256", "/CN=hanko-ci.com/CN=www.hanko-ci.com", both, "invalid-two-cns.der")
    with open(os.path.join(CORPUS, "csr", "valid-p256.der"), "rb") as f:
        der = bytearray(f.read())
    write("csr", "invalid-truncated.der", bytes(der[: len(der) // 2]))
    der[-1] ^= 0x01
    write("csr", "invalid-bad-signature.der", bytes(der))


# ---------- identifiers ----------
def identifier_seeds():
    valid = {
        "apex": "hanko-ci.com", "www": "www.hanko-ci.com", "upper": "WWW.Hanko-CI.COM",
        "idn-de": "xn--bcher-kva.hanko-ci.com", "idn-ja": "xn--r8jz45g.hanko-ci.jp",
        "private-suffix": "hanko-ci.github.io", "digits": "3com.hanko-ci.co.uk",
    }
    for k, v in valid.items():
        write("identifier", f"valid-{k}.txt", v)
    invalid = {
        "wildcard": "*.hanko-ci.com", "ipv4": "192.0.2.1", "ipv6": "[2001:db8::1]",
        "localhost": "localhost", "ulabel": "bücher.hanko-ci.com", "bad-punycode": "xn--a.hanko-ci.com",
        "fake-alabel": "xn--hanko-ci-.com", "emoji": "xn--ls8h.hanko-ci.com", "tld": "com",
        "public-suffix": "co.uk", "trailing-dot": "hanko-ci.com.", "onion": "hanko.onion",
        "example": "www.example.com", "numeric-tld": "hanko-ci.123", "empty-label": "a..hanko-ci.com",
        "reserved-ldh": "ab--c.hanko-ci.com", "long-label": "a" * 64 + ".hanko-ci.com",
        "long-name": ".".join(["abcdefghi"] * 26) + ".com", "underscore": "_acme.hanko-ci.com",
        "fullwidth-dot": "www\uff0ehanko-ci.com", "empty": "",
    }
    for k, v in invalid.items():
        write("identifier", f"invalid-{k}.txt", v)
    ident = lambda v, t="dns": {"type": t, "value": v}
    write("identifier", "valid-new-order.json",
          dump({"identifiers": [ident("hanko-ci.com"), ident("www.hanko-ci.com"), ident("xn--bcher-kva.hanko-ci.com")]}))
    write("identifier", "invalid-new-order-ip.json", dump({"identifiers": [ident("hanko-ci.com"), ident("192.0.2.1", "ip")]}))
    write("identifier", "invalid-new-order-empty.json", dump({"identifiers": []}))
    write("identifier", "invalid-new-order-type.json", dump({"identifiers": [{"type": "dns", "value": 7}]}))
    write("identifier", "invalid-new-order-duplicate.json", '{"identifiers":[{"type":"dns","type":"ip","value":"hanko-ci.com"}]}')


# ---------- OCSP requests ----------
def ocsp_seeds():
    ca = os.path.join(HERE, "ca.pem")
    def req(name, *args):
        out = tmp(name)
        run("openssl", "ocsp", "-issuer", ca, *args, "-reqout", out)
        with open(out, "rb") as f:
            return f.read()
    sha1 = req("a", "-serial", "0x3f2a9c01d4e5b6a7", "-no_nonce")
    write("ocsp_request", "valid-sha1.der", sha1)
    write("ocsp_request", "valid-sha1-nonce.der", req("b", "-serial", "0x0123456789abcdef0123456789abcdef01234567"))
    write("ocsp_request", "valid-sha256.der", req("c", "-sha256", "-serial", "12345678901234567890", "-no_nonce"))
    b64 = base64.b64encode(sha1).decode()
    write("ocsp_request", "valid-get-base64.txt", b64)
    write("ocsp_request", "valid-get-percent.txt", urllib.parse.quote(b64, safe=""))
    write("ocsp_request", "valid-get-urlsafe.txt", base64.urlsafe_b64encode(sha1).decode().rstrip("="))
    write("ocsp_request", "invalid-two-serials.der", req("d", "-serial", "0x01", "-serial", "0x02", "-no_nonce"))
    write("ocsp_request", "invalid-sha384.der", req("e", "-sha384", "-serial", "0x1234", "-no_nonce"))
    other = tmp("other.pem")
    okey = tmp("other.key")
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", okey,
        "-subj", "/CN=Another CA", "-days", "30", "-out", other)
    out = tmp("f")
    run("openssl", "ocsp", "-issuer", other, "-serial", "0x1234", "-no_nonce", "-reqout", out)
    with open(out, "rb") as f:
        write("ocsp_request", "invalid-other-issuer.der", f.read())
    write("ocsp_request", "invalid-truncated.der", sha1[:-3])
    write("ocsp_request", "invalid-get-bad-percent.txt", "MEIw%G0wQA")


if __name__ == "__main__":
    jws_seeds()
    csr_seeds()
    identifier_seeds()
    ocsp_seeds()
