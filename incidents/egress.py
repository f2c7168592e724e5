"""Outbound HTTP to addresses that people type in (outbound webhooks): checked before it is sent.

A URL someone configured must not become a way to reach what only Hindsight's own network reaches (the cloud's
metadata service, a database's admin port, the loopback interface). So, for every request:

1. The URL is checked: https (http only where allowed, for tests), no user name or password, a bounded length.
2. Its host is resolved, and every address it resolves to must be public (or in a network explicitly allowed);
   a name that also resolves to a private address is refused as a whole.
3. The connection goes to the address that was checked, not to a second resolution of the name (which could
   answer otherwise: DNS rebinding); TLS still verifies the certificate for the name. No proxy is used.
4. No redirect is followed, the whole exchange has one deadline, and at most a few bytes of the answer are read.

A leaf module: the standard library only, with the policy (allowed schemes and networks, the timeout) passed in.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

URL_MAX_LENGTH = 2000
ANSWER_READ_BYTES = 1024  # of an answer's body, kept for the delivery log
_URL = re.compile(r"(?i)(https?)://([^/?#]+)([/?][^#]*)?(#.*)?")
_PORT = re.compile(r"[0-9]{1,5}")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Refused(ValueError):
    """The URL, or an address its host resolves to, may not be reached; the message says why, for a person."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as in the URL, lower-cased, without brackets for an IPv6 literal
    port: int
    path: str  # path and query, at least "/"


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no answer (refused, timed out, unreachable)
    detail: str  # the start of the answer's body, or what went wrong
    duration_ms: int


def networks(cidrs: Iterable[str]) -> list[IpNetwork]:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in cidrs]


def parse(url: str, *, allow_http: bool) -> Target:
    """The URL's parts, if it may be used at all; Refused otherwise."""
    if not url:
        raise Refused("Give the URL that receives the events.")
    if len(url) > URL_MAX_LENGTH:
        raise Refused(f"Use at most {URL_MAX_LENGTH} characters.")
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise Refused("A URL holds no spaces or control characters.")
    if not url.isascii():
        raise Refused(
            "Write the URL in ASCII: percent-encode the path (é is %C3%A9) and give an international host name "
            "in its xn-- form."
        )
    match = _URL.fullmatch(url)
    if match is None:
        raise Refused("Give a full URL starting with https://.")
    scheme, authority = match.group(1).lower(), match.group(2)
    if scheme != "https" and not allow_http:
        raise Refused("Use an https:// URL.")
    if "@" in authority:
        raise Refused("A webhook URL holds no user name or password.")
    host, port_text = _split_authority(authority)
    port = int(port_text) if port_text else (443 if scheme == "https" else 80)
    if not 0 < port < 65536:
        raise Refused("The port must be between 1 and 65535.")
    return Target(scheme=scheme, host=host, port=port, path=match.group(3) or "/")


def _split_authority(authority: str) -> tuple[str, str]:
    if authority.startswith("["):  # an IPv6 literal: [::1]:8443
        host, _, rest = authority[1:].partition("]")
        if rest and not (rest.startswith(":") and _PORT.fullmatch(rest[1:])):
            raise Refused("Give the port as a number after the address.")
        return host.lower(), rest[1:]
    host, _, port = authority.partition(":")
    if port and not _PORT.fullmatch(port):
        raise Refused("Give the port as a number after the host.")
    if not host:
        raise Refused("Give the URL's host.")
    return host.lower(), port


# IPv6 is public only within 2000::/3 (global unicast), and not in the ranges there that carry an IPv4 address
# (6to4, Teredo, NAT64's local-use prefix): those are judged by the IPv4 address they carry. NAT64's well-known
# prefix (64:ff9b::/96), IPv4-compatible (::/96) and IPv4-translated (::ffff:0:0:0/96) addresses lie outside 2000::/3.
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
_NAT64_LOCAL_V6 = ipaddress.ip_network("64:ff9b:1::/48")
# IPv4 ranges that Python's is_global (3.11) counts as global but that are not a public host: IETF protocol
# assignments (192.0.0.0/24, e.g. 192.0.0.8) and the NAT64/DNS64 discovery range.
_NOT_PUBLIC_V4 = (ipaddress.ip_network("192.0.0.0/24"),)


def _is_public(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return _is_public(address.ipv4_mapped)
        if address.sixtofour is not None:
            return _is_public(address.sixtofour)
        if address.teredo is not None:
            return all(_is_public(carried) for carried in address.teredo)
        if address not in _GLOBAL_UNICAST_V6 or address in _NAT64_LOCAL_V6:
            return False
    elif any(address in network for network in _NOT_PUBLIC_V4):
        return False
    return address.is_global and not address.is_multicast


# The numeric forms of IPv4 that resolvers accept besides dotted quads: 2130706433, 0x7f.1, 0177.0.0.1.
_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}", re.IGNORECASE)


def _is_literal(host: str, address: IpAddress) -> bool:
    """Whether `host` is written as an address (any form: 127.0.0.1, 2130706433, [::1]) rather than a name."""
    try:
        return ipaddress.ip_address(host) == address
    except ValueError:
        return _NUMERIC_HOST.fullmatch(host) is not None


def allowed_address(address: IpAddress, *, allowed: Iterable[IpNetwork]) -> bool:
    """Public unicast addresses, and those of the networks explicitly allowed."""
    return _is_public(address) or any(
        address in network for network in allowed if address.version == network.version
    )


RESOLVE_TIMEOUT = 5.0  # seconds a name lookup may take (the page that saves a URL waits for it)


def _lookup(host: str, port: int, *, timeout: float) -> list[Any]:
    """getaddrinfo, given up after `timeout` (it has no timeout of its own); the lookup's thread ends by itself."""
    found: list[Any] = []
    failed: list[BaseException] = []

    def look() -> None:
        try:
            found.extend(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except (socket.gaierror, UnicodeError, OSError) as error:
            failed.append(error)

    thread = threading.Thread(target=look, name="webhook-dns", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise Refused(f"{host} did not resolve within {timeout:g} s.")
    if failed:
        raise Refused(f"{host} does not resolve to an address.")
    return found


def resolve(target: Target, *, allowed: Iterable[IpNetwork], timeout: float = RESOLVE_TIMEOUT) -> IpAddress:
    """The address to connect to: the first the host resolves to, once every one of them is allowed."""
    allowed = list(allowed)
    found = _lookup(target.host, target.port, timeout=timeout)
    addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found))
    if not addresses:
        raise Refused(f"{target.host} does not resolve to an address.")
    for address in addresses:
        if not allowed_address(address, allowed=allowed):
            # A name's private address is not told (it would be a lookup of the internal DNS for whoever asks).
            named = str(address) if _is_literal(target.host, address) else "an address"
            raise Refused(
                f"{target.host} resolves to {named}, which is not a public address (loopback, private, "
                "link-local or reserved); webhooks are sent to public addresses only."
            )
    return addresses[0]


def check(url: str, *, allow_http: bool, allowed: Iterable[IpNetwork]) -> Target:
    """Refused unless `url` may be sent to now (steps 1 and 2)."""
    target = parse(url, allow_http=allow_http)
    resolve(target, allowed=allowed)
    return target


def _connection(target: Target, address: IpAddress, timeout: float) -> http.client.HTTPConnection:
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)

    # Connect to the checked address itself, with no second look-up of any name; the Host header and TLS (SNI,
    # the certificate) keep the name.
    def connect_checked(_address: object, timeout: float | None = None, source: object = None) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if address.version == 6 else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect((str(address), target.port))
        except BaseException:
            sock.close()
            raise
        return sock

    connection._create_connection = connect_checked  # type: ignore[attr-defined]
    return connection


def _abort(connection: http.client.HTTPConnection) -> None:
    """Past the deadline: end the exchange, whatever it is waiting for (a slow answer, dripping headers)."""
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):  # closed meanwhile
            sock.shutdown(socket.SHUT_RDWR)


def post(
    url: str,
    body: bytes,
    *,
    headers: Mapping[str, str],
    allow_http: bool,
    allowed: Iterable[IpNetwork],
    timeout: float,
) -> Answer:
    """POST `body` to `url` (steps 1 to 4); never raises for what the network or the receiver does."""
    started = time.monotonic()

    def answer(status: int | None, detail: str) -> Answer:
        return Answer(status, detail, int((time.monotonic() - started) * 1000))

    try:
        target = parse(url, allow_http=allow_http)
        address = resolve(target, allowed=allowed)
    except Refused as refused:
        return answer(None, f"refused: {refused}")
    connection = _connection(target, address, timeout)
    deadline = threading.Timer(timeout, _abort, args=(connection,))
    deadline.daemon = True
    deadline.start()
    try:
        connection.request("POST", target.path, body=body, headers=dict(headers))
        response = connection.getresponse()
        detail = response.read(ANSWER_READ_BYTES).decode("utf-8", "replace")
        return answer(response.status, detail)
    except TimeoutError:
        return answer(None, f"no answer within {timeout:g} s")
    except ssl.SSLError as error:
        return answer(None, f"TLS failed ({error.reason or type(error).__name__})")
    except (OSError, http.client.HTTPException) as error:
        if time.monotonic() - started >= timeout:
            return answer(None, f"no answer within {timeout:g} s")
        return answer(None, f"could not connect ({type(error).__name__})")
    except ValueError as error:  # e.g. a URL saved before the ASCII rule that http.client cannot send
        return answer(None, f"the request could not be sent ({type(error).__name__})")
    finally:
        deadline.cancel()
        connection.close()
