#!/usr/bin/env python3
"""Judges a testssl.sh JSON report (-oj) of a scan of moat; exits 1 with one line per problem.

What must hold:
  - protocols: SSLv2, SSLv3, TLS 1.0 and TLS 1.1 not offered; TLS 1.2 and TLS 1.3 offered
    (with --tls12 absent: run with `--allow-no-tls12` for the modern profile);
  - every cipher suite offered is AEAD (AES-GCM, AES-CCM, ChaCha20-Poly1305) with an
    ephemeral key exchange (TLS 1.3 suites, or ECDHE/DHE for TLS 1.2);
  - no client-initiated renegotiation;
  - no finding of severity above OK/INFO (LOW, MEDIUM, HIGH, CRITICAL, WARN, FATAL), except
    the findings about the test certificate itself listed in CERT_IDS: the suite serves a
    throw-away self-signed certificate for localhost, valid for 30 days, without revocation
    information, scanned as https://127.0.0.1/. Trust, chain, name, lifetime and revocation
    are properties of the certificate an operator installs, not of moat's TLS; they are
    ignored here (and only these ids). Tool-level notes in TOOL_IDS (the local openssl
    lacking GOST engines) are ignored too.

Exit status: 0 clean; 1 problems (one line each); 2 usage; 3 inconclusive: the only problems
are WARN findings saying a check could not connect (testssl's own connection failed, e.g. on a
loaded machine under a sanitizer build), which says nothing about moat's TLS; the caller may scan
again.
"""
import json
import re
import sys

CERT_IDS = {
    "cert_trust",                 # the test certificate names localhost, the scan uses 127.0.0.1
    "cert_chain_of_trust",        # self-signed
    "cert_expirationStatus",      # valid for 30 days only
    "cert_notAfter",
    "cert_validityPeriod",
    "cert_extlifeSpan",
    "cert_revocation",            # no CRL / OCSP URI in a throw-away certificate
    "cert_ocspURL",
    "cert_crlDistributionPoints",
    "OCSP_stapling",
    "cert_mustStapleExtension",
    "DNS_CAArecord",              # --nodns none
}
TOOL_IDS = {"engine_problem"}
# The vulnerability checks that must have run (a scan that skipped them proves nothing).
REQUIRED_IDS = {
    "heartbleed", "CCS", "ticketbleed", "ROBOT", "secure_renego", "secure_client_renego",
    "CRIME_TLS", "POODLE_SSL", "fallback_SCSV", "SWEET32", "FREAK", "DROWN", "LOGJAM", "BEAST",
    "LUCKY13", "RC4", "PFS",
}
BAD = {"LOW", "MEDIUM", "HIGH", "CRITICAL", "WARN", "FATAL"}
AEAD = re.compile(r"_(GCM|CCM|CCM_8|CHACHA20_POLY1305)(_|$)")


def main(argv):
    allow_no_tls12 = "--allow-no-tls12" in argv
    paths = [a for a in argv[1:] if not a.startswith("--")]
    if len(paths) != 1:
        print("usage: testssl_check.py [--allow-no-tls12] REPORT.json")
        return 2
    with open(paths[0], encoding="utf-8") as f:
        data = json.load(f)
    if isinstance(data, dict):  # -oJ (pretty) wraps the list
        data = data.get("scanResult", [{}])[0].get("findings", data)
    by_id = {}
    for f in data:
        by_id.setdefault(f.get("id", ""), []).append(f)
    problems = []

    def finding(i):
        return " ".join(f.get("finding", "") for f in by_id.get(i, []))

    for i in sorted(REQUIRED_IDS - set(by_id)):
        problems.append(f"{i}: check missing from the report")
    if "scanProblem" in by_id:
        problems.append("testssl reported a scan problem: " + finding("scanProblem"))
    for proto in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
        if "not offered" not in finding(proto):
            problems.append(f"{proto}: expected 'not offered', got '{finding(proto)}'")
    protos = ("TLS1_3",) if allow_no_tls12 else ("TLS1_2", "TLS1_3")
    for proto in protos:
        got = finding(proto)
        if not got.startswith("offered"):
            problems.append(f"{proto}: expected 'offered', got '{got}'")
    if "not vulnerable" not in finding("secure_client_renego"):
        problems.append("client-initiated renegotiation: " + finding("secure_client_renego"))
    ciphers = [i for i in by_id if re.fullmatch(r"cipher[-_](tls1_[0-3]_)?x[0-9a-f]+", i)]
    if not ciphers:
        problems.append("no cipher suites listed (the scan did not enumerate them)")
    for i in ciphers:
        text = finding(i)
        cols = text.split()
        name = cols[-1] if cols else ""  # the IANA/RFC name, e.g. TLS_ECDHE_ECDSA_WITH_...
        tls13 = name.startswith("TLS_") and "_WITH_" not in name
        ephemeral = tls13 or name.startswith(("TLS_ECDHE_", "TLS_DHE_"))
        if not AEAD.search(name) or not ephemeral:
            problems.append(f"cipher suite without AEAD or forward secrecy offered: {text}")
    inconclusive = []
    for f in data:
        fid = f.get("id", "")
        sev = f.get("severity", "")
        text = f.get("finding", "")
        if sev not in BAD or fid in CERT_IDS or fid in TOOL_IDS:
            continue
        if sev == "WARN" and "connect problem" in text:
            inconclusive.append(f"{fid} [{sev}]: {text}")
        else:
            problems.append(f"{fid} [{sev}]: {text}")
    for p in problems + inconclusive:
        print(p)
    if problems:
        return 1
    return 3 if inconclusive else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
