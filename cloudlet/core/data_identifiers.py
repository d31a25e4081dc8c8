"""The sensitive data a data protection policy finds: managed and custom data identifiers.

Why one module, in ``core``: CloudWatch Logs (masking at ingestion, audit findings) and
SNS (message data protection: deny, mask, redact, audit) ask the same question (where in
this text is each kind of sensitive data?), and the answer has to be the same in both
services and at every egress point. It is plain Python over strings, testable without a
server. The two services' user guides name the same identifiers with the same keywords.

What each managed identifier finds follows the user guide's "Types of data that you can
protect" tables, built from patterns cloudlet can match reliably:

- ``EmailAddress``, ``IpAddress`` (IPv4, and IPv6 checked by ``ipaddress``), the four
  private key kinds (``OpenSshPrivateKey``, ``PgpPrivateKey``, ``PkcsPrivateKey``:
  their PEM blocks; ``PuttyPrivateKey``: the file from its header to its ``Private-MAC``)
  need no keyword;
- ``AwsSecretKey`` (40 base64 characters), ``CreditCardNumber`` (13 to 19 digits, spaces
  or hyphens allowed between them, a card network's prefix and a valid Luhn check
  digit), ``CreditCardSecurityCode``, ``CreditCardExpiration`` and ``Ssn-US`` match only
  with one of their keywords within 30 characters before or after, as the guide says
  ("keyword required"); a keyword's space also matches no space, ``_`` or ``-``.

Custom data identifiers (``Configuration.CustomDataIdentifier``) are the policy's own
regular expressions. A finding inside a longer finding of another identifier is dropped
(the digit groups of a card number are no security codes). Overlapping findings are
merged when masking, and masking puts one character (``*`` unless told) for each
character found, so a masked text keeps its length and shape; redacting removes them.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

PROXIMITY = 30
ARN_PREFIX = "arn:aws:dataprotection::aws:data-identifier/"


@dataclass(frozen=True, slots=True)
class Finding:
    name: str
    start: int
    end: int


def _keywords(*words: str) -> re.Pattern[str]:
    parts = [r"[ _-]?".join(re.escape(piece) for piece in word.split(" ")) for word in words]
    return re.compile("|".join(sorted(parts, key=len, reverse=True)), re.IGNORECASE)


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


_CARD_PREFIXES = (
    (
        ("4", 13, 19),  # Visa, Electron
        ("34", 15, 15),  # American Express
        ("37", 15, 15),
        ("5019", 16, 16),  # Dankort
        ("36", 14, 19),  # Diners Club
        ("38", 14, 19),
        ("6011", 16, 19),  # Discover
        ("65", 16, 19),
        ("62", 16, 19),  # UnionPay
    )
    + tuple((str(p), 16, 16) for p in range(51, 56))
    + tuple(  # Mastercard
        (str(p), 14, 19)
        for p in range(300, 306)  # Diners Club
    )
    + tuple((str(p), 16, 19) for p in range(644, 650))
    + tuple(  # Discover
        (str(p), 16, 19)
        for p in range(3528, 3590)  # JCB
    )
    + tuple((str(p), 16, 16) for p in range(2221, 2721))
)  # Mastercard 2-series


def _card(text: str) -> bool:
    digits = re.sub(r"[ -]", "", text)
    if not 13 <= len(digits) <= 19 or not luhn(digits):
        return False
    return any(
        digits.startswith(prefix) and low <= len(digits) <= high
        for prefix, low, high in _CARD_PREFIXES
    )


def _ipv6(text: str) -> bool:
    if text.count(":") < 2 or not re.search(r"[0-9A-Fa-f]", text):
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Detector:
    pattern: re.Pattern[str]
    keywords: re.Pattern[str] | None = None
    check: Callable[[str], bool] | None = None


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_PEM = r"-----BEGIN {0}-----[\s\S]*?-----END {0}-----"
MANAGED: dict[str, tuple[Detector, ...]] = {
    "EmailAddress": (
        Detector(
            re.compile(
                r"(?<![\w.+%-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])"
            )
        ),
    ),
    "IpAddress": (
        Detector(re.compile(rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\.?\d)")),
        Detector(re.compile(r"(?<![\w:])[0-9A-Fa-f:]{2,39}(?![\w:])"), check=_ipv6),
    ),
    "AwsSecretKey": (
        Detector(
            re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
            _keywords(
                "aws_secret_access_key",
                "credentials",
                "secret access key",
                "secret key",
                "set-awscredential",
            ),
        ),
    ),
    "CreditCardNumber": (
        Detector(
            re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"),
            _keywords(
                "account number",
                "american express",
                "amex",
                "bank card",
                "card",
                "card number",
                "card num",
                "cc #",
                "ccn",
                "check card",
                "credit",
                "credit card#",
                "dankort",
                "debit",
                "debit card",
                "diners club",
                "discover",
                "electron",
                "japanese card bureau",
                "jcb",
                "mastercard",
                "mc",
                "pan",
                "payment account number",
                "payment card number",
                "pcn",
                "union pay",
                "visa",
            ),  # fmt: skip
            _card,
        ),
    ),
    "CreditCardSecurityCode": (
        Detector(
            re.compile(r"(?<!\d)\d{3,4}(?!\d)"),
            _keywords(
                "card id",
                "card identification code",
                "card identification number",
                "card security code",
                "card validation code",
                "card validation number",
                "card verification data",
                "card verification value",
                "cvc",
                "cvc2",
                "cvv",
                "cvv2",
                "elo verification code",
            ),  # fmt: skip
        ),
    ),
    "CreditCardExpiration": (
        Detector(
            re.compile(r"(?<![\d/-])(?:0[1-9]|1[0-2]) ?[/-] ?(?:\d{4}|\d{2})(?![\d/-])"),
            _keywords("exp d", "exp m", "exp y", "expiration", "expiry"),
        ),
    ),
    "Ssn-US": (
        Detector(
            re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])"),
            _keywords("ssn", "ss#", "ssn#", "social security", "social security number"),
        ),
    ),
    "OpenSshPrivateKey": (Detector(re.compile(_PEM.format("OPENSSH PRIVATE KEY"))),),
    "PgpPrivateKey": (Detector(re.compile(_PEM.format("PGP PRIVATE KEY BLOCK"))),),
    "PkcsPrivateKey": (
        Detector(
            re.compile(
                r"-----BEGIN ((?:RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY)-----[\s\S]*?-----END \1-----"
            )
        ),
    ),
    "PuttyPrivateKey": (
        Detector(re.compile(r"PuTTY-User-Key-File-\d+:[\s\S]*?Private-MAC: *[0-9A-Fa-f]+")),
    ),
}


def managed_name(arn: str) -> str | None:
    """The managed identifier an ARN names (``.../data-identifier/EmailAddress``)."""
    if not re.fullmatch(r"arn:aws[\w-]*:dataprotection::aws:data-identifier/[\w-]+", arn):
        return None
    return arn.rsplit("/", 1)[1]


def _near(keywords: re.Pattern[str], text: str, start: int, end: int) -> bool:
    before = text[max(0, start - PROXIMITY) : start]
    after = text[end : end + PROXIMITY]
    return bool(keywords.search(before) or keywords.search(after))


def find(
    text: str, managed: Iterable[str], custom: dict[str, re.Pattern[str]] | None = None
) -> list[Finding]:
    """Every finding of the named managed identifiers and of ``custom`` (name: regex) in
    ``text``, in order of position."""
    found: list[Finding] = []
    for name in managed:
        for detector in MANAGED.get(name, ()):
            for m in detector.pattern.finditer(text):
                if m.end() == m.start():
                    continue
                if detector.check is not None and not detector.check(m.group(0)):
                    continue
                if detector.keywords is not None and not _near(
                    detector.keywords, text, m.start(), m.end()
                ):
                    continue
                found.append(Finding(name, m.start(), m.end()))
    for name, rx in (custom or {}).items():
        found.extend(
            Finding(name, m.start(), m.end()) for m in rx.finditer(text) if m.end() > m.start()
        )
    found.sort(key=lambda f: (f.start, -f.end))
    return [f for f in found if not _inside(f, found)]


def _inside(f: Finding, found: list[Finding]) -> bool:
    """A finding within a longer one of another identifier (a card number's digit groups
    near "card" are no security codes)."""
    return any(
        g.name != f.name
        and g.start <= f.start
        and f.end <= g.end
        and g.end - g.start > f.end - f.start
        for g in found
    )


def mask(text: str, findings: Iterable[Finding], char: str = "*") -> str:
    """``text`` with each character of every finding replaced by ``char``."""
    chars = list(text)
    for f in findings:
        chars[f.start : f.end] = char * (f.end - f.start)
    return "".join(chars)


def redact(text: str, findings: Iterable[Finding]) -> str:
    """``text`` without the characters of any finding (overlapping findings merged)."""
    keep = [True] * len(text)
    for f in findings:
        keep[f.start : f.end] = [False] * (f.end - f.start)
    return "".join(ch for ch, kept in zip(text, keep, strict=True) if kept)


# -- a policy's identifiers (the grammar Logs and SNS share) ----------------------------

MAX_CUSTOM = 10
MAX_CUSTOM_NAME = 128
MAX_REGEX = 200
_CUSTOM_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def custom_identifiers(config: Any, bad: Callable[[str], Exception]) -> dict[str, re.Pattern[str]]:
    """A policy's ``Configuration``: its custom identifiers by name (at most 10, each a
    ``Name`` and a ``Regex`` of at most 200 characters). ``bad`` makes the service's error."""
    if config is None:
        return {}
    if not isinstance(config, dict) or set(config) - {"CustomDataIdentifier"}:
        raise bad("Configuration may only contain CustomDataIdentifier.")
    items = config.get("CustomDataIdentifier") or []
    if not isinstance(items, list):
        raise bad("CustomDataIdentifier must be a list.")
    if len(items) > MAX_CUSTOM:
        raise bad(f"A policy can have at most {MAX_CUSTOM} custom data identifiers.")
    out: dict[str, re.Pattern[str]] = {}
    for item in items:
        if not isinstance(item, dict) or set(item) != {"Name", "Regex"}:
            raise bad("Each custom data identifier must have exactly a Name and a Regex.")
        name, regex = item["Name"], item["Regex"]
        if not isinstance(name, str) or not _CUSTOM_NAME.match(name) or len(name) > MAX_CUSTOM_NAME:
            raise bad(f"Invalid custom data identifier name: {name}")
        if name in MANAGED or name in out:
            raise bad(f"Duplicate data identifier name: {name}")
        if not isinstance(regex, str) or not regex or len(regex) > MAX_REGEX:
            raise bad(f"The Regex of {name} must be 1 to {MAX_REGEX} characters.")
        try:
            out[name] = re.compile(regex)
        except re.error as exc:
            raise bad(f"The Regex of {name} is not a valid regular expression: {exc}") from None
    return out


def named_identifiers(
    raw: Any,
    custom: dict[str, re.Pattern[str]],
    bad: Callable[[str], Exception],
    undetected: Callable[[str], Exception],
) -> tuple[str, ...]:
    """A statement's ``DataIdentifier`` list: managed ARNs as names, custom names as
    they are. A managed identifier AWS has but cloudlet does not detect is refused
    (``undetected``, given the message), rather than accepted and never found."""
    if not isinstance(raw, list) or not raw or not all(isinstance(i, str) for i in raw):
        raise bad("DataIdentifier must be a non-empty list of data identifiers.")
    names = []
    for ident in raw:
        if ident in custom:
            names.append(ident)
            continue
        name = managed_name(ident)
        if name is None:
            raise bad(f"Unknown data identifier: {ident}")
        if name not in MANAGED:
            raise undetected(
                f"cloudlet does not detect the managed data identifier {name}; it detects "
                f"{', '.join(sorted(MANAGED))} and custom data identifiers."
            )
        names.append(name)
    return tuple(dict.fromkeys(names))


MAX_DOCUMENT = 30_720
VERSION = "2021-06-01"
_POLICY_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_TOP_KEYS = {"Name", "Description", "Version", "Statement", "Configuration"}


def policy_document(
    text: str, bad: Callable[[str], Exception], bad_name: Callable[[str], Exception]
) -> tuple[dict[str, Any], dict[str, re.Pattern[str]]]:
    """A data protection policy's document checked up to its statements (at most 30,720
    characters of JSON, known top-level keys, ``Name``, ``Description``, ``Version``
    2021-06-01) and its custom identifiers; ``bad``/``bad_name`` make the service's
    errors (AWS words the name's with its own message)."""
    if len(text) > MAX_DOCUMENT:
        raise bad(f"The policy document can be at most {MAX_DOCUMENT} characters.")
    try:
        doc = json.loads(text)
    except ValueError:
        raise bad("The policy document is not valid JSON.") from None
    if not isinstance(doc, dict):
        raise bad("The policy document must be a JSON object.")
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise bad(f"Unknown field {sorted(unknown)[0]}.")
    name = doc.get("Name")
    if not isinstance(name, str) or not _POLICY_NAME.match(name):
        raise bad_name(
            "Policy Name can only include alphanumeric characters, hyphens (-) and underscores (_)"
        )
    description = doc.get("Description")
    if description is not None and not isinstance(description, str):
        raise bad("Description must be a string.")
    if doc.get("Version") != VERSION:
        raise bad(f"Version must be {VERSION}.")
    return doc, custom_identifiers(doc.get("Configuration"), bad)
