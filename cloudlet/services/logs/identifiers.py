"""The sensitive data a data protection policy finds: managed and custom data identifiers.

Why one module: masking and audit findings both start from the same question (where in
this text is each kind of sensitive data?), and the answer has to be the same at every
egress point. It is plain Python over strings, testable without a server.

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
(the digit groups of a card number are no security codes). Overlapping findings are merged when masking, and masking puts
one ``*`` for each character found, so a masked event keeps its length and shape.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

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


def mask(text: str, findings: Iterable[Finding]) -> str:
    """``text`` with each character of every finding replaced by ``*``."""
    chars = list(text)
    for f in findings:
        chars[f.start : f.end] = "*" * (f.end - f.start)
    return "".join(chars)
