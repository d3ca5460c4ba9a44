"""Hanko's pkilint worker: lints DER documents for the CA (CP 4.3.1.2, REQUIREMENTS 8).

Shipped inside the hanko binary (src/issuance/lint/worker.py) and run as
`python -I -c <this file> KIND...` by src/issuance/lint/pkilint.rs. One process serves
many documents, so pkilint's import and validator construction are paid once.

Protocol: JSON, one object per line. stdout carries protocol lines only; anything a
library prints is redirected to stderr, which the CA logs.
  at start:  {"ready": true, "pkilint": "<version>", "python": "<version>"}
  request:   {"id": <int>, "kind": "<KIND>", "der_b64": "<base64 of the DER>"}
  answer:    {"id": <int>, "findings": [{"code", "severity", "message", "path"}]}
             {"id": <int or null>, "error": "<text>"}   (a bad request; the worker stays up)
KIND: a pkilint serverauth CertificateType name (DV_PRE_CERTIFICATE, ROOT_CA, ...), linted
as `lint_cabf_serverauth_cert lint -t <type>` does; CRL or ARL, as `lint_crl -p BR -t <type>`;
OCSP_RESPONSE, as `lint_ocsp_response`. The kinds named on the command line are built at
start; any other is built on first use. Each is built once and reused.

A document that does not decode is a FATAL finding, never a dead worker. The worker
exits when its stdin closes (the CA stopped or dropped it).
"""

import base64
import binascii
import importlib.metadata
import json
import os
import platform
import sys

# Codes of findings the worker itself raises (pkilint's CLI reports these cases as
# "Failed to load ..." on stderr, without a code).
UNDECODABLE = "hanko.lint.undecodable_document"
LINTER_EXCEPTION = "hanko.lint.linter_exception"


def protocol_channel():
    """Keep fd 1 for the protocol; send stray prints (ours or a library's) to stderr."""
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return channel


OUT = protocol_channel()

from pkilint import finding_filter, loader, pkix  # noqa: E402
from pkilint.cabf import cabf_crl, serverauth  # noqa: E402
from pkilint.cabf.serverauth import serverauth_constants  # noqa: E402
from pkilint.pkix import certificate, crl, extension, name, ocsp  # noqa: E402
from pkilint.validation import ValidationFindingSeverity  # noqa: E402


def finding(severity, code, message, path):
    return {"severity": severity, "code": code, "message": message, "path": path}


class DocumentLinter:
    """One document type: its validator, its finding filters and its loader."""

    def __init__(self, validator, load_der, filters=None):
        self.validator = validator
        self.load_der = load_der
        self.filters = filters

    def lint(self, der):
        try:
            doc = self.load_der(der, "document")
        except Exception as e:  # any decoding failure is a finding, not a crash
            return [finding("FATAL", UNDECODABLE, f"{type(e).__name__}: {e}", "")]
        results = self.validator.validate(doc.root)
        if self.filters is not None:
            # As the CLI without --report-all: drop PKIX findings the BRs supersede.
            results, _ = finding_filter.filter_results(self.filters, results)
        findings = []
        for result in results:
            for description in result.finding_descriptions:
                severity = description.finding.severity
                # The CLI's default threshold (INFO) leaves DEBUG out; so do we.
                if severity > ValidationFindingSeverity.INFO:
                    continue
                findings.append(
                    finding(
                        severity.name,
                        description.finding.code,
                        description.message or "",
                        result.node.path,
                    )
                )
        return findings


def certificate_linter(kind):
    """As bin/lint_cabf_serverauth_cert.py `lint -t <kind>` (no type detection)."""
    certificate_type = serverauth_constants.CertificateType[kind]
    validator = certificate.create_pkix_certificate_validator_container(
        serverauth.create_decoding_validators(),
        serverauth.create_validators(certificate_type),
    )
    return DocumentLinter(
        validator,
        loader.RFC5280CertificateDocumentLoader().load_der_document,
        serverauth.create_serverauth_finding_filters(certificate_type),
    )


def crl_linter(kind):
    """As bin/lint_crl.py `lint -p BR -t <kind>`."""
    crl_type = crl.CertificateRevocationListType[kind]
    validator = crl.create_pkix_crl_validator_container(
        [
            pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
            pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS),
        ],
        [
            crl.create_issuer_validator_container([]),
            crl.create_validity_validator_container(
                [cabf_crl.create_validity_period_validator(crl_type)]
            ),
            crl.create_extensions_validator_container([]),
            cabf_crl.CabfCrlReasonCodeAllowlistValidator(crl_type),
        ],
    )
    return DocumentLinter(
        validator, loader.RFC5280CertificateListDocumentLoader().load_der_document
    )


def ocsp_response_linter():
    """As bin/lint_ocsp_response.py `lint`."""
    validator = ocsp.create_pkix_ocsp_response_validator_container(
        [
            ocsp.create_response_decoder(),
            pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
            pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS),
        ],
        [],
    )
    return DocumentLinter(
        validator, loader.RFC6960OCSPResponseDocumentLoader().load_der_document
    )


def build_linter(kind):
    """The linter for `kind`; KeyError if pkilint has no such document type."""
    if kind in ("CRL", "ARL"):
        return crl_linter(kind)
    if kind == "OCSP_RESPONSE":
        return ocsp_response_linter()
    return certificate_linter(kind)


LINTERS = {}


def linter_for(kind):
    if kind not in LINTERS:
        LINTERS[kind] = build_linter(kind)
    return LINTERS[kind]


def send(message):
    OUT.write(json.dumps(message, separators=(",", ":")) + "\n")
    OUT.flush()


def handle(line):
    request_id = None
    try:
        request = json.loads(line)
        request_id = request.get("id")
        kind = request["kind"]
        der = base64.b64decode(request["der_b64"], validate=True)
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as e:
        return {"id": request_id, "error": f"bad request: {type(e).__name__}: {e}"}
    try:
        linter = linter_for(kind)
    except (KeyError, TypeError):
        return {"id": request_id, "error": f"unknown document kind {kind!r}"}
    try:
        findings = linter.lint(der)
    except Exception as e:  # a pkilint bug on one document must not take the worker down
        message = f"{type(e).__name__}: {e}"
        findings = [finding("FATAL", LINTER_EXCEPTION, message, "")]
    return {"id": request_id, "findings": findings}


def main():
    for kind in sys.argv[1:]:
        linter_for(kind)
    send(
        {
            "ready": True,
            "pkilint": importlib.metadata.version("pkilint"),
            "python": platform.python_version(),
        }
    )
    for line in sys.stdin:
        if line.strip():
            send(handle(line))


main()
