"""The DNS wire protocol over UDP and TCP: decodes queries, encodes answers (with dnslib)."""

from __future__ import annotations

import logging
import socket
import socketserver
import struct
import threading
from collections.abc import Callable

from dnslib import EDNS0, QTYPE, DNSRecord
from dnslib import RR as WireRR

from sandbox.dnsserver.answers import RR, Answer, Rcode

logger = logging.getLogger(__name__)

# EDNS option (local/experimental range) naming a hosted zone, by id or name: the query is then
# answered as that zone's authoritative name servers would answer it, instead of recursively.
ZONE_OPTION = 65333
_UDP_NO_EDNS = 512  # RFC 1035 limit for clients that do not advertise a larger buffer
_UDP_EDNS = 1232  # the payload size the DNS flag day 2020 settled on
_TCP_TIMEOUT = 10.0

AnswerFn = Callable[[str, str, str | None], Answer]  # (qname, qtype, zone or None) -> Answer


def _rrs(records: tuple[RR, ...]) -> list[object]:
    out: list[object] = []
    for rr in records:
        out.extend(WireRR.fromZone(f"{rr.name} {rr.ttl} IN {rr.type} {rr.value}"))
    return out


def respond(data: bytes, answer_fn: AnswerFn, *, udp: bool) -> bytes | None:
    """The wire reply to one query message; None when it cannot be parsed at all."""
    try:
        request = DNSRecord.parse(data)
    except Exception:
        logger.debug("dropping an undecodable DNS message (%d bytes)", len(data))
        return None
    opt = next((rr for rr in request.ar if rr.rtype == QTYPE.OPT), None)
    zone = None
    if opt is not None:
        for option in opt.rdata or []:
            if option.code == ZONE_OPTION:
                zone = option.data.decode("ascii", "replace")
    recursive = zone is None
    reply = request.reply(ra=int(recursive and bool(request.header.rd)), aa=0)
    if request.header.opcode != 0 or len(request.questions) != 1:
        reply.header.rcode = Rcode.NOTIMP if request.header.opcode != 0 else Rcode.FORMERR
        return bytes(reply.pack())
    question = request.q
    qname, qtype = str(question.qname), QTYPE.get(question.qtype, f"TYPE{question.qtype}")
    if question.qclass != 1:
        reply.header.rcode = Rcode.REFUSED
        return bytes(reply.pack())
    try:
        answer = answer_fn(qname, str(qtype), zone)
        answer_rrs, authority_rrs = _rrs(answer.answer), _rrs(answer.authority)
    except Exception:
        logger.exception("cannot answer %s %s", qname, qtype)
        answer, answer_rrs, authority_rrs = Answer(Rcode.SERVFAIL), [], []
    reply.header.rcode = int(answer.rcode)
    reply.header.aa = int(answer.authoritative)
    reply.add_answer(*answer_rrs)
    reply.add_auth(*authority_rrs)
    if opt is not None:
        reply.add_ar(EDNS0(udp_len=_UDP_EDNS))
    packed = bytes(reply.pack())
    limit = max(_UDP_NO_EDNS, min(int(opt.rclass), 65535)) if opt is not None else _UDP_NO_EDNS
    if udp and len(packed) > limit:
        # Keep the question so clients match the reply; TC tells them to retry over TCP.
        reply.rr, reply.auth = [], []
        reply.header.tc = 1
        packed = bytes(reply.pack())
    return packed


class _UdpHandler(socketserver.BaseRequestHandler):
    server: _UdpServer

    def handle(self) -> None:
        data, sock = self.request
        reply = respond(data, self.server.answer_fn, udp=True)
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _TcpHandler(socketserver.BaseRequestHandler):
    server: _TcpServer

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(_TCP_TIMEOUT)
        try:
            # A client may send several length-prefixed queries on one connection.
            while True:
                head = _read_exactly(conn, 2)
                if head is None:
                    return
                body = _read_exactly(conn, struct.unpack("!H", head)[0])
                if body is None:
                    return
                reply = respond(body, self.server.answer_fn, udp=False)
                if reply is None:
                    return
                conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return


def _read_exactly(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class _UdpServer(socketserver.ThreadingMixIn, socketserver.UDPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], answer_fn: AnswerFn) -> None:
        self.answer_fn = answer_fn
        super().__init__(address, _UdpHandler)


class _TcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], answer_fn: AnswerFn) -> None:
        self.answer_fn = answer_fn
        super().__init__(address, _TcpHandler)


class WireServer:
    """A UDP and a TCP listener on the same port, each served by its own thread."""

    def __init__(self, host: str, port: int, answer_fn: AnswerFn) -> None:
        self._servers = self._bind(host, port, answer_fn)
        self._threads: list[threading.Thread] = []

    @staticmethod
    def _bind(host: str, port: int, answer_fn: AnswerFn) -> tuple[_UdpServer, _TcpServer]:
        last_error: OSError | None = None
        for _ in range(20 if port == 0 else 1):
            udp = _UdpServer((host, port), answer_fn)
            try:
                return udp, _TcpServer((host, udp.server_address[1]), answer_fn)
            except OSError as error:  # the TCP twin of a free UDP port may be taken
                udp.server_close()
                last_error = error
        assert last_error is not None
        raise last_error

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._servers[0].server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="sandbox-dns-" + ("tcp" if server is self._servers[1] else "udp"),
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        for server in self._servers:
            if self._threads:
                server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
