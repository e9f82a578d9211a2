"""The provider's gRPC transport (``reconciler.provider.transport``) as a gRPC client sees it:
grpcio's own client proves interoperability (calls, status codes and messages, streams, mutual
TLS), a raw HTTP/2 client (h2) checks the framing, the trailers and the flow control both ways,
and Python's ssl shows a client without Terraform's certificate refused.

The servers here serve test methods (an echo, a failing call, a barrier) on the same code path
the provider's services take; ``test_process`` and the end-to-end tests drive the real provider.
"""

from __future__ import annotations

import datetime
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import grpc
import h2.connection
import h2.events
import h2.settings
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tf.gen import tfplugin_pb2 as pb

from reconciler.provider import tls, transport

ROOT = Path(__file__).resolve().parents[2]
Message = pb.DynamicValue  # any generated message serves: two bytes fields (msgpack, json)


def _echo(request: Message) -> Message:
    return Message(msgpack=request.msgpack[::-1], json=request.json.upper())


def _fail(request: Message) -> Message:
    raise ValueError(f"boom: {request.json.decode()}")


def _status(request: Message) -> Message:
    raise transport.Status(transport.RESOURCE_EXHAUSTED, request.json.decode())


def _stream(request: Message) -> object:
    return (Message(json=request.json + b"-%d" % i) for i in range(3))


class _Barrier:
    """A call that returns only once ``parties`` calls are inside it at the same time."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=60)

    def __call__(self, request: Message) -> Message:
        self.barrier.wait()  # a server that runs calls one at a time breaks the barrier: UNKNOWN
        return Message(json=request.json)


def _methods(**extra: transport.Method) -> dict[str, transport.Method]:
    methods = {
        "/test.T/Echo": transport.Method(Message.FromString, _echo),
        "/test.T/Fail": transport.Method(Message.FromString, _fail),
        "/test.T/Status": transport.Method(Message.FromString, _status),
        "/test.T/Stream": transport.Method(Message.FromString, _stream, streaming=True),
    }
    methods.update(extra)
    return methods


@pytest.fixture
def short_tmp():
    path = tempfile.mkdtemp(prefix="tft-", dir="/tmp")
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def serve(short_tmp):
    """``serve(methods, client_cert=None) -> (socket path, server certificate PEM)``."""
    servers = []

    def start(methods: dict[str, transport.Method], client_cert: str | None = None) -> tuple[str, bytes]:
        key_pem, cert_pem, _ = tls.certificate()
        path = str(short_tmp / f"{len(servers)}.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(16)
        server = transport.Server(listener, transport.tls_context(cert_pem, key_pem, client_cert), methods.get)
        server.start()
        servers.append(server)
        return path, cert_pem

    yield start
    for server in servers:
        server.stop(grace=5)


def _channel(path: str, cert_pem: bytes, key: bytes | None = None, chain: bytes | None = None) -> grpc.Channel:
    credentials = grpc.ssl_channel_credentials(root_certificates=cert_pem, private_key=key, certificate_chain=chain)
    return grpc.secure_channel(f"unix:{path}", credentials, options=[("grpc.ssl_target_name_override", "localhost")])


def _unary(channel: grpc.Channel, name: str) -> grpc.UnaryUnaryMultiCallable:
    return channel.unary_unary(f"/test.T/{name}", request_serializer=Message.SerializeToString,
                               response_deserializer=Message.FromString)


def _client_certificate(curve: object = None) -> tuple[str, bytes]:
    """A self-signed CA certificate for client and server auth, as go-plugin's AutoMTLS makes
    Terraform's (ECDSA P-521, SHA-512): (certificate PEM, key PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(curve or ec.SECP521R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HashiCorp")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(seconds=30)).not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                         data_encipherment=False, key_agreement=True, key_cert_sign=True,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA512()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def test_grpcio_client_calls_streams_and_large_messages(serve):
    """grpcio's client: a unary call, a message of 3 MiB each way (beyond both sides' first
    flow-control windows), a server stream, and many calls on one connection."""
    path, cert = serve(_methods())
    big = os.urandom(3 << 20)
    with _channel(path, cert) as channel:
        echo = _unary(channel, "Echo")
        assert echo(Message(msgpack=b"abc", json=b"x"), timeout=60) == Message(msgpack=b"cba", json=b"X")
        assert echo(Message(msgpack=big), timeout=60).msgpack == big[::-1]
        stream = channel.unary_stream("/test.T/Stream", request_serializer=Message.SerializeToString,
                                      response_deserializer=Message.FromString)
        assert [m.json for m in stream(Message(json=b"s"), timeout=60)] == [b"s-0", b"s-1", b"s-2"]
        for i in range(50):
            assert echo(Message(json=b"n%d" % i), timeout=60).json == b"N%d" % i


def test_errors_reach_grpcio_as_grpcio_servers_answer_them(serve):
    """An unknown method is UNIMPLEMENTED, a handler's exception UNKNOWN with its message, a
    ``Status`` its own code and message (percent-encoded on the wire: non-ASCII survives), a
    request that does not parse INTERNAL; the connection serves on after each."""
    path, cert = serve(_methods())
    with _channel(path, cert) as channel:
        cases = [
            (_unary(channel, "Nope"), Message(), grpc.StatusCode.UNIMPLEMENTED, "Method not found!"),
            (_unary(channel, "Fail"), Message(json="é%1".encode()), grpc.StatusCode.UNKNOWN,
             "Exception calling application: boom: é%1"),
            (_unary(channel, "Status"), Message(json="quota\nüber 100%".encode()), grpc.StatusCode.RESOURCE_EXHAUSTED,
             "quota\nüber 100%"),
            (channel.unary_unary("/test.T/Echo", request_serializer=lambda b: b, response_deserializer=Message.FromString),
             b"\xff\xff\xff", grpc.StatusCode.INTERNAL, "Exception deserializing request!"),
        ]
        for call, request, code, details in cases:
            with pytest.raises(grpc.RpcError) as caught:
                call(request, timeout=60)
            assert (caught.value.code(), caught.value.details()) == (code, details)
        assert _unary(channel, "Echo")(Message(json=b"ok"), timeout=60).json == b"OK"


def test_calls_on_one_connection_run_concurrently(serve):
    """Terraform sends up to -parallelism calls at once on its one connection: ten calls that each
    wait for all ten to be inside the server at the same time all succeed."""
    path, cert = serve(_methods(**{"/test.T/Barrier": transport.Method(Message.FromString, _Barrier(10))}))
    results: list[object] = []
    with _channel(path, cert) as channel:
        barrier = _unary(channel, "Barrier")

        def call(i: int) -> None:
            try:
                results.append(barrier(Message(json=str(i).encode()), timeout=90).json.decode())
            except grpc.RpcError as exc:
                results.append(exc)

        threads = [threading.Thread(target=call, args=(i,)) for i in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert sorted(results, key=str) == sorted((str(i) for i in range(10)), key=str)


class _RawClient:
    """An HTTP/2 client over TLS that shows the frames as they come (h2, client side), with the
    protocol's default 64 KiB windows, which it opens only as it reads."""

    def __init__(self, path: str, cert_pem: bytes) -> None:
        context = ssl.create_default_context(cadata=cert_pem.decode())
        context.set_alpn_protocols(["h2"])
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        raw.connect(path)
        raw.settimeout(60)
        self.sock = context.wrap_socket(raw, server_hostname="localhost")
        assert self.sock.selected_alpn_protocol() == "h2"
        self.h2 = h2.connection.H2Connection()
        self.h2.initiate_connection()
        self.flush()

    def flush(self) -> None:
        self.sock.sendall(self.h2.data_to_send())

    def call(self, path: str, body: bytes) -> tuple[list, bytes, list, list]:
        """(response headers, DATA bytes, trailers, the sizes of the WINDOW_UPDATEs the server sent)."""
        stream_id = self.h2.get_next_available_stream_id()
        self.h2.send_headers(stream_id, [(":method", "POST"), (":scheme", "https"), (":path", path),
                                         (":authority", "localhost"), ("content-type", "application/grpc"),
                                         ("te", "trailers")])
        pending = memoryview(body)
        headers, data, trailers, updates = [], bytearray(), [], []
        ended = False
        while not ended:
            while pending:
                room = min(self.h2.local_flow_control_window(stream_id), self.h2.max_outbound_frame_size)
                if room <= 0:
                    break
                self.h2.send_data(stream_id, bytes(pending[:room]), end_stream=len(pending) <= room)
                pending = pending[room:]
            if not body and not pending:
                pass
            self.flush()
            received = self.sock.recv(1 << 16)
            assert received, "the server closed the connection"
            for event in self.h2.receive_data(received):
                if isinstance(event, h2.events.ResponseReceived):
                    headers = event.headers
                    ended = ended or event.stream_ended is not None
                elif isinstance(event, h2.events.DataReceived):
                    data += event.data
                    self.h2.acknowledge_received_data(event.flow_controlled_length, stream_id)
                elif isinstance(event, h2.events.TrailersReceived):
                    trailers = event.headers
                elif isinstance(event, h2.events.WindowUpdated):
                    updates.append(event.delta)
                elif isinstance(event, h2.events.StreamEnded):
                    ended = True
                elif isinstance(event, h2.events.StreamReset):
                    raise AssertionError(f"stream reset: {event.error_code}")
            self.flush()
        return headers, bytes(data), trailers, updates


def _framed(message: Message) -> bytes:
    payload = message.SerializeToString()
    return b"\0" + len(payload).to_bytes(4, "big") + payload


def test_framing_trailers_and_flow_control_on_the_wire(serve):
    """The response is HEADERS (:status 200, application/grpc), one length-prefixed message, then
    trailers with grpc-status 0; a 3 MiB request goes through only because the server opens its
    window as it reads (WINDOW_UPDATE), and a 3 MiB answer only because the server waits for the
    client's 64 KiB windows to open instead of overrunning them (h2 would fail the connection)."""
    path, cert = serve(_methods())
    client = _RawClient(path, cert)
    big = os.urandom(3 << 20)
    headers, data, trailers, updates = client.call("/test.T/Echo", _framed(Message(msgpack=big, json=b"a")))
    assert dict(headers)[b":status"] == b"200" and dict(headers)[b"content-type"] == b"application/grpc"
    assert data == _framed(Message(msgpack=big[::-1], json=b"A"))
    assert trailers == [(b"grpc-status", b"0")]
    assert sum(updates) >= len(big) - (2 << 20), updates  # the server's window (1 MiB) was reopened as it read

    headers, data, trailers, _ = client.call("/test.T/Missing", _framed(Message()))
    assert data == b"" and trailers == []  # trailers-only: the status is in the one HEADERS frame
    assert dict(headers)[b"grpc-status"] == b"12" and dict(headers)[b"grpc-message"] == b"Method not found!"

    headers, data, trailers, _ = client.call("/test.T/Echo", b"\0\0\0\0\x09short")  # prefix says 9, 5 follow
    assert dict(headers)[b"grpc-status"] == b"13"
    headers, data, trailers, _ = client.call("/test.T/Echo", _framed(Message(json=b"again")))
    assert data == _framed(Message(json=b"AGAIN")) and trailers == [(b"grpc-status", b"0")]


def test_terraforms_client_certificate_is_required_when_given(serve):
    """With PLUGIN_CLIENT_CERT (go-plugin's AutoMTLS: ECDSA P-521), a client presenting that
    certificate is served; one without a certificate, or with another, is refused in the TLS
    handshake before any call. grpcio's client with a P-256 certificate shows the same."""
    client_cert, client_key = _client_certificate()
    other_cert, other_key = _client_certificate()
    path, cert = serve(_methods(), client_cert=client_cert)

    def talk(cert_and_key: tuple[str, bytes] | None) -> bytes:
        context = ssl.create_default_context(cadata=cert.decode())
        context.set_alpn_protocols(["h2"])
        if cert_and_key:
            directory = tempfile.mkdtemp(dir="/tmp")
            try:
                Path(directory, "c.pem").write_text(cert_and_key[0])
                Path(directory, "k.pem").write_bytes(cert_and_key[1])
                context.load_cert_chain(Path(directory, "c.pem"), Path(directory, "k.pem"))
            finally:
                shutil.rmtree(directory)
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        raw.connect(path)
        raw.settimeout(60)
        with context.wrap_socket(raw, server_hostname="localhost") as sock:
            client = h2.connection.H2Connection()
            client.initiate_connection()
            sock.sendall(client.data_to_send())
            return sock.recv(1 << 16)  # the server's SETTINGS, or the refusal

    assert talk((client_cert, client_key))  # served: the server's HTTP/2 preface arrives
    for wrong in (None, (other_cert, other_key)):
        with pytest.raises((ssl.SSLError, ConnectionError)):
            talk(wrong)

    from cryptography.hazmat.primitives.asymmetric import ec

    p256_cert, p256_key = _client_certificate(ec.SECP256R1())
    path, cert = serve(_methods(), client_cert=p256_cert)
    with _channel(path, cert, key=p256_key, chain=p256_cert.encode()) as channel:
        assert _unary(channel, "Echo")(Message(json=b"m"), timeout=60).json == b"M"
    with _channel(path, cert) as channel:
        with pytest.raises(grpc.RpcError) as caught:
            _unary(channel, "Echo")(Message(json=b"m"), timeout=60)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_client_certificate_that_is_not_pem_is_a_clear_error():
    key_pem, cert_pem, _ = tls.certificate()
    with pytest.raises(ssl.SSLError, match="PLUGIN_CLIENT_CERT is not a PEM certificate"):
        transport.tls_context(cert_pem, key_pem, "not a certificate")


def test_the_provider_serves_without_grpcio():
    """The provider's transport, services and servicer load without grpc (grpcio is a test-only
    client here): only the generated message classes of ``tf.gen``, never its ``_pb2_grpc`` stubs;
    nor h2 (the transport frames HTTP/2 itself; h2 is a test-only client too)."""
    code = textwrap.dedent("""
        import sys, threading
        from reconciler.provider import server
        services = server._Services(threading.Event())
        methods = services.load()
        import reconciler.provider.servicer
        from tf.gen import tfplugin_pb2 as pb
        response = services.lookup("/tfplugin6.Provider/GetMetadata").call(pb.GetMetadata.Request())
        assert {r.type_name for r in response.resources} == {"prefect_work_pool", "prefect_work_queue"}
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("grpc", "h2", "hyperframe") or m.endswith("_pb2_grpc")))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- the HTTP/2 the transport speaks itself: what a client may send, and what breaks the protocol --

def _tls_socket(path: str, cert_pem: bytes) -> ssl.SSLSocket:
    context = ssl.create_default_context(cadata=cert_pem.decode())
    context.set_alpn_protocols(["h2"])
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.connect(path)
    raw.settimeout(60)
    return context.wrap_socket(raw, server_hostname="localhost")


class _Client:
    """An h2 client that sends its requests in the forms HTTP/2 allows a client and grpc-go does not
    use: padded DATA, HEADERS with a priority, header blocks split into CONTINUATIONs, its own
    window and frame size, a PING and frames of an unknown type between them."""

    def __init__(self, path: str, cert_pem: bytes, settings: dict[int, int]) -> None:
        self.sock = _tls_socket(path, cert_pem)
        self.h2 = h2.connection.H2Connection()
        self.h2.initiate_connection()
        self.h2.update_settings(settings)
        self.pings: list[bytes] = []
        self.flush()

    def flush(self) -> None:
        self.sock.sendall(self.h2.data_to_send())

    def call(self, path: str, body: bytes, *, pad: int | None, priority: bool, filler: int,
             unknown_frame: bool) -> tuple[dict, bytes, list]:
        stream_id = self.h2.get_next_available_stream_id()
        headers = [(":method", "POST"), (":scheme", "https"), (":path", path), (":authority", "localhost"),
                   ("content-type", "application/grpc"), ("te", "trailers")]
        if filler:  # a header block larger than the server's 16 KiB frames: HEADERS + CONTINUATION
            headers.append(("x-filler", "f" * filler))
        # (h2's client overfills a HEADERS frame that has both a priority and CONTINUATIONs)
        self.h2.send_headers(stream_id, headers, priority_weight=200 if priority and not filler else None)
        self.flush()
        if unknown_frame:  # type 0xfa, an extension the server does not know: ignored
            self.sock.sendall((4).to_bytes(3, "big") + b"\xfa\x00" + stream_id.to_bytes(4, "big") + b"????")
        self.h2.ping(b"12345678")
        pending = memoryview(body)
        if not pending:
            self.h2.end_stream(stream_id)
        data, trailers, response = bytearray(), [], {}
        ended = False
        while not ended:
            while pending:
                room = min(self.h2.local_flow_control_window(stream_id), self.h2.max_outbound_frame_size)
                room -= (pad or 0) + 1 if pad is not None else 0
                if room <= 0:
                    break
                self.h2.send_data(stream_id, bytes(pending[:room]), end_stream=len(pending) <= room, pad_length=pad)
                pending = pending[room:]
            self.flush()
            received = self.sock.recv(1 << 16)
            assert received, "the server closed the connection"
            for event in self.h2.receive_data(received):
                if isinstance(event, h2.events.ResponseReceived):
                    response = dict(event.headers)
                elif isinstance(event, h2.events.DataReceived):
                    data += event.data
                    self.h2.acknowledge_received_data(event.flow_controlled_length, stream_id)
                elif isinstance(event, h2.events.TrailersReceived):
                    trailers = event.headers
                elif isinstance(event, h2.events.PingAckReceived):
                    self.pings.append(event.ping_data)
                elif isinstance(event, h2.events.StreamEnded):
                    ended = True
                elif isinstance(event, h2.events.StreamReset):
                    raise AssertionError(f"stream reset: {event.error_code}")
            self.flush()
        return response, bytes(data), trailers


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.sampled_from([0, 1, 100, 16_379, 70_000, 300_000]), pad=st.one_of(st.none(), st.integers(0, 255)),
       priority=st.booleans(), filler=st.sampled_from([0, 20_000, 40_000]), unknown_frame=st.booleans(),
       window=st.sampled_from([1024, 65_535, 1 << 20]), frame=st.sampled_from([16_384, 100_000]))
def test_any_framing_a_client_may_choose_gets_the_same_answer(serve, size, pad, priority, filler, unknown_frame,
                                                              window, frame):
    """Whatever lawful framing the client chooses (padding, priorities, CONTINUATIONs, a small or
    large window and frame size of its own, PINGs and unknown frames among them) the call is the
    same: the echo comes back whole, in windows the client opened, and the PING is answered."""
    path, cert = serve(_methods())
    client = _Client(path, cert, {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window,
                                  h2.settings.SettingCodes.MAX_FRAME_SIZE: frame})
    try:
        request = Message(msgpack=os.urandom(size), json=b"j")
        response, data, trailers = client.call("/test.T/Echo", _framed(request), pad=pad, priority=priority,
                                               filler=filler, unknown_frame=unknown_frame)
        assert response[b":status"] == b"200" and response[b"content-type"] == b"application/grpc"
        assert data == _framed(Message(msgpack=request.msgpack[::-1], json=b"J"))
        assert trailers == [(b"grpc-status", b"0")]
        assert client.pings == [b"12345678"]
        # and the connection serves on
        _, data, _ = client.call("/test.T/Echo", _framed(Message(json=b"x")), pad=None, priority=False, filler=0,
                                 unknown_frame=False)
        assert data == _framed(Message(json=b"X"))
    finally:
        client.sock.close()


def _frames(data: bytes) -> list[tuple[int, int, int, bytes]]:
    out = []
    while len(data) >= 9:
        length = int.from_bytes(data[:3], "big")
        out.append((data[3], data[4], int.from_bytes(data[5:9], "big"), data[9:9 + length]))
        data = data[9 + length:]
    return out


def _raw_exchange(path: str, cert: bytes, payload: bytes, *, preface: bool = True) -> list[tuple[int, int, int, bytes]]:
    """Send ``payload`` after the client preface and an empty SETTINGS; every frame the server
    sends until it closes the connection."""
    sock = _tls_socket(path, cert)
    head = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + (0).to_bytes(3, "big") + b"\x04\x00" + bytes(4) if preface else b""
    try:
        sock.sendall(head + payload)
    except (ConnectionError, ssl.SSLError):
        pass  # the server stopped reading at the fault: what it answered is still to read
    return _frames(_rest(sock))


def _rest(sock: ssl.SSLSocket) -> bytes:
    """Everything the server sends on ``sock`` until it closes the connection (then closed here too)."""
    received = b""
    while True:
        try:
            chunk = sock.recv(1 << 16)
        except (ConnectionError, ssl.SSLError):
            break
        if not chunk:
            break
        received += chunk
    sock.close()
    return received


def _raw(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream_id.to_bytes(4, "big") + payload


def _request_block() -> bytes:
    import hpack

    return hpack.Encoder().encode([(":method", "POST"), (":scheme", "https"), (":path", "/test.T/Echo"),
                                   (":authority", "localhost"), ("content-type", "application/grpc")])


@pytest.mark.parametrize("name, payload, code", [
    ("a PUSH_PROMISE from a client", _raw(5, 4, 1, bytes(4)), 1),
    ("DATA on stream 0", _raw(0, 0, 0, b"x"), 1),
    ("HEADERS on an even stream", _raw(1, 5, 2, _request_block()), 1),
    ("DATA on a stream never opened", _raw(0, 0, 7, b"x"), 1),
    ("a frame beyond SETTINGS_MAX_FRAME_SIZE", _raw(0, 0, 1, bytes(16_385)), 6),
    ("a CONTINUATION without HEADERS", _raw(9, 4, 1, b""), 1),
    ("a frame inside a header block", _raw(1, 0, 1, _request_block()) + _raw(6, 0, 0, bytes(8)), 1),
    ("padding as long as the frame", _raw(1, 0x8 | 0x4, 1, b"\x05" + _request_block()[:4]), 1),
    ("a header block that does not decode", _raw(1, 5, 1, b"\xff\xff\xff\xff"), 9),
    ("a connection window beyond 2^31-1", _raw(8, 0, 0, (0x7FFFFFFF).to_bytes(4, "big")), 3),
    ("a WINDOW_UPDATE of 0", _raw(8, 0, 0, bytes(4)), 1),
    ("a PING of 7 bytes", _raw(6, 0, 0, bytes(7)), 6),
    ("SETTINGS with MAX_FRAME_SIZE below 16384", _raw(4, 0, 0, (5).to_bytes(2, "big") + (100).to_bytes(4, "big")), 1),
    ("SETTINGS with INITIAL_WINDOW_SIZE beyond 2^31-1",
     _raw(4, 0, 0, (4).to_bytes(2, "big") + (1 << 31).to_bytes(4, "big")), 3),
])
def test_a_client_that_breaks_http2_gets_a_goaway(serve, name, payload, code):
    """RFC 9113's connection errors end the connection with a GOAWAY naming the error."""
    path, cert = serve(_methods())
    frames = _raw_exchange(path, cert, payload)
    goaways = [f for f in frames if f[0] == 7]
    assert goaways, f"{name}: no GOAWAY in {[f[0] for f in frames]}"
    assert int.from_bytes(goaways[-1][3][4:8], "big") == code, name


def test_a_bad_preface_closes_the_connection(serve):
    path, cert = serve(_methods())
    frames = _raw_exchange(path, cert, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", preface=False)
    assert [f[0] for f in frames if f[0] == 7] == [7]


def test_rst_stream_and_goaway_from_the_client(serve):
    """A call the client resets mid-request is forgotten and the connection serves on; a
    stream-level fault (DATA after the stream's end) resets only that stream; the client's GOAWAY
    ends the connection."""
    path, cert = serve(_methods())
    block = _request_block()
    message = _framed(Message(json=b"ok"))
    sock = _tls_socket(path, cert)
    sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + _raw(4, 0, 0) + b"".join([
        _raw(1, 4, 1, block), _raw(0, 0, 1, message[:3]), _raw(3, 0, 1, bytes(4)),  # stream 1: reset
        _raw(1, 4, 3, block), _raw(0, 1, 3, message), _raw(0, 0, 3, b"late"),  # 3: DATA after its end
        _raw(1, 4, 5, block), _raw(0, 1, 5, message),  # stream 5: answered
    ]))
    received = b""
    while not any(f[0] == 1 and f[2] == 5 and f[1] & 1 for f in _frames(received)):  # stream 5's trailers
        chunk = sock.recv(1 << 16)
        assert chunk, "the server closed the connection"
        received += chunk
    frames = _frames(received)
    assert not [f for f in frames if f[2] == 1], "a reset stream got an answer"
    resets = [(f[2], int.from_bytes(f[3], "big")) for f in frames if f[0] == 3]
    assert (3, 5) in resets  # STREAM_CLOSED for stream 3 only
    data = b"".join(f[3] for f in frames if f[0] == 0 and f[2] == 5)
    assert data == _framed(Message(json=b"OK"))
    sock.sendall(_raw(7, 0, 0, (5).to_bytes(4, "big") + bytes(4)))  # GOAWAY, NO_ERROR
    assert not [f for f in _frames(_rest(sock)) if f[0] in (0, 1)]


def test_response_header_blocks_decode_as_hpack():
    """The header blocks encoded once (literals without indexing) are what an HPACK decoder reads."""
    import hpack

    decoder = hpack.Decoder()
    assert decoder.decode(transport._TABLE_SIZE_ZERO + transport._RESPONSE_HEADERS, raw=True) == [
        (b":status", b"200"), (b"content-type", b"application/grpc")]
    long = "é" * 200 + "%"
    block = transport._Connection._trailers(transport.INTERNAL, long)
    assert decoder.decode(block, raw=True) == [(b"grpc-status", b"13"),
                                               (b"grpc-message", transport._percent_encode(long))]
    assert decoder.decode(transport._STATUS_415, raw=True) == [(b":status", b"415")]
    assert decoder.header_table.dynamic_entries == type(decoder.header_table.dynamic_entries)()


def test_header_blocks_read_the_same_through_the_memo_of_indexed_blocks():
    """The memo of indexed-only blocks never answers what the decoder would not: a client whose
    table changes between two identical indexed blocks (an entry added, the table resized or
    evicted) gets each block read against the table it has then."""
    import hpack

    connection = transport._Connection.__new__(transport._Connection)
    connection._decoder, connection._decoded = hpack.Decoder(), {}
    connection._streams, connection._last_stream, connection._frames = {}, 0, bytearray()
    seen: list[dict] = []
    connection._request = lambda stream_id, headers, end_stream: seen.append(headers)
    encoder = hpack.Encoder()
    first = encoder.encode([(":path", "/a"), ("x-k", "one")])  # literals added to the table
    again = encoder.encode([(":path", "/a"), ("x-k", "one")])  # indexed only
    assert transport._indexed_only(again) and not transport._indexed_only(first)
    moved = encoder.encode([("x-k", "two")])  # a new entry: "one" moves down the table
    stream_id = 1
    for block in (first, again, again, moved, again):
        connection._header_block(stream_id, True, block)
        stream_id += 2
    reference = hpack.Decoder()
    assert seen == [dict(reference.decode(b, raw=True)) for b in (first, again, again, moved, again)]
    assert seen[1] == seen[2] == {b":path": b"/a", b"x-k": b"one"}
    assert seen[4] != seen[1]  # the same bytes read otherwise once the table moved: no stale answer
