"""What a DNS query returns: response code, answer and authority sections, AA flag."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Rcode(enum.IntEnum):
    NOERROR = 0
    FORMERR = 1
    SERVFAIL = 2
    NXDOMAIN = 3
    NOTIMP = 4
    REFUSED = 5


@dataclass(frozen=True)
class RR:
    """One resource record; ``value`` is zone-file text."""

    name: str
    type: str
    ttl: int
    value: str


@dataclass(frozen=True)
class Answer:
    """A DNS response. A referral has NOERROR, no answer, NS records in authority and no AA."""

    rcode: Rcode
    answer: tuple[RR, ...] = ()
    authority: tuple[RR, ...] = ()
    authoritative: bool = False

    def values(self, rtype: str) -> list[str]:
        """The answer's values of type ``rtype`` (a CNAME chain leading to them left out)."""
        wanted = rtype.upper()
        return [rr.value for rr in self.answer if rr.type == wanted]

    @property
    def is_referral(self) -> bool:
        return (
            self.rcode == Rcode.NOERROR
            and not self.answer
            and any(rr.type == "NS" for rr in self.authority)
        )


SERVFAIL = Answer(Rcode.SERVFAIL)
REFUSED = Answer(Rcode.REFUSED)
