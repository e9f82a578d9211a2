"""The provider's start: the go-plugin handshake line, the unix socket, in-memory TLS, and the
Provider, GRPCController and GRPCStdio services behind them.

Terraform starts the provider three times a plan, so what comes before the handshake line is
kept to what it needs: a fresh certificate (``tls``) and a listening socket. Terraform's
connection waits in the socket's queue while the rest loads: the transport (``transport``: ssl,
h2), the generated tfplugin6 message classes of ``tf.gen`` (their protobuf descriptors are a
fifth of the start; never its ``_pb2_grpc`` stubs, which import grpc) and the servicer's
modules; a first call that arrives sooner waits for the same imports. The servicer itself
(``servicer``) is made on the first Provider call. Terraform waits for the process to exit after
each start: once its Shutdown is answered, the process leaves without the interpreter's teardown
(``main``).
"""

from __future__ import annotations

import base64
import os
import socket
import sys
import threading
from typing import Any

from reconciler.provider import tls


class _OnFirstCall:
    """Stands in for ``servicer.ProviderServicer`` when the methods are registered, and creates it
    on the first call: the service's modules (codec, msgpack, the schemas, the provider state)
    load after the handshake line, not before it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._servicer: Any = None

    def _real(self) -> Any:
        with self._lock:
            if self._servicer is None:
                from reconciler.provider.servicer import ProviderServicer

                self._servicer = ProviderServicer()
            return self._servicer

    def method(self, name: str) -> Any:
        """The servicer's ``name`` as a call of one request, or None when the servicer lacks it."""
        from reconciler.provider.servicer import ProviderServicer

        if not name[:1].isupper() or not callable(getattr(ProviderServicer, name, None)):
            return None
        return lambda request: getattr(self._real(), name)(request, None)


class _Services:
    """The Provider, GRPCController and GRPCStdio services: a method's path to how to serve it
    (``transport.Method``). The generated message classes of ``tf.gen`` load on the first
    lookup (``load``), after the handshake line."""

    def __init__(self, stopped: threading.Event) -> None:
        self._stopped = stopped
        self._lock = threading.Lock()
        self._methods: dict[str, Any] | None = None

    def load(self) -> dict[str, Any]:
        """The methods, made (and the message classes imported) on the first use."""
        with self._lock:
            if self._methods is None:
                self._methods = _methods(self._stopped)
            return self._methods

    def lookup(self, path: str) -> Any:
        return self.load().get(path)


def _methods(stopped: threading.Event) -> dict[str, Any]:
    from google.protobuf import message_factory
    from tf.gen import grpc_controller_pb2 as controller_pb
    from tf.gen import grpc_stdio_pb2 as stdio_pb
    from tf.gen import tfplugin_pb2 as pb

    from reconciler.provider import transport

    def unimplemented(request: Any) -> Any:  # what grpcio's generated servicer base class answered
        raise transport.Status(transport.UNIMPLEMENTED, "Method not implemented!")

    def shutdown(request: Any) -> Any:
        stopped.set()
        return controller_pb.Empty()

    def stream_stdio(request: Any) -> Any:
        return iter(())

    provider = _OnFirstCall()
    ours = {"plugin.GRPCController/Shutdown": shutdown, "plugin.GRPCStdio/StreamStdio": stream_stdio}
    methods = {}
    for module in (pb, controller_pb, stdio_pb):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                name = f"{service.full_name}/{method.name}"
                if service.full_name == "tfplugin6.Provider":
                    call = provider.method(method.name) or unimplemented
                else:
                    call = ours.get(name, unimplemented)
                methods["/" + name] = transport.Method(
                    message_factory.GetMessageClass(method.input_type).FromString, call,
                    streaming=method.server_streaming)
    return methods


def serve() -> int:
    """Serve until Terraform shuts the plugin down; print the handshake line first."""
    stopped = threading.Event()
    key_pem, cert_pem, cert_der = tls.certificate()
    tmp = _private_directory()
    sock = os.path.join(tmp, _SOCKET_NAME)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(sock)
        listener.listen(64)
        cert_b64 = base64.b64encode(cert_der).decode().rstrip("=")
        sys.stdout.write(f"1|6|unix|{sock}|grpc|{cert_b64}\n")
        sys.stdout.flush()
        # Terraform connects now; its connection waits in the listen queue while the transport
        # (ssl, h2), the message classes and the servicer's modules load.
        from reconciler.provider import transport

        context = transport.tls_context(cert_pem, key_pem, os.environ.get("PLUGIN_CLIENT_CERT"))
        services = _Services(stopped)
        server = transport.Server(listener, context, services.lookup)
        server.start()
        try:
            services.load()
            import reconciler.provider.servicer  # noqa: F401

            stopped.wait()  # wakes as soon as the Shutdown RPC sets it (and on a signal)
        except KeyboardInterrupt:
            pass
        # Terraform waits for this process to exit before it goes on: let the Shutdown answer go
        # out (the RPCs in flight end, at most 0.2 s), and no longer.
        server.stop(grace=0.2)
    finally:
        listener.close()
        for remove, path in ((os.unlink, sock), (os.rmdir, tmp)):
            try:
                remove(path)
            except OSError:
                pass
    return 0


# A unix socket's path is at most 107 bytes on Linux (sun_path is 108 with its NUL); macOS allows 103.
_SOCKET_PATH_MAX = 103
_SOCKET_NAME = "plugin.sock"


def _private_directory() -> str:
    """A new directory only we can enter, in the temporary directory (what ``tempfile.mkdtemp``
    makes, without its import: the provider starts three times a plan). A ``TMPDIR`` so deep that
    the socket's path would not fit a unix socket address falls back to /tmp (gRPC would fail to
    bind with a traceback); when neither fits, the error says which variable to change."""
    base = os.environ.get("TMPDIR") or "/tmp"
    room = _SOCKET_PATH_MAX - len(f"/tfprefect-{'0' * 12}/{_SOCKET_NAME}".encode())
    if len(os.fsencode(base)) > room:
        if len(b"/tmp") <= room and os.path.isdir("/tmp") and os.access("/tmp", os.W_OK | os.X_OK):
            base = "/tmp"
        else:
            raise OSError(f"TMPDIR={base!r} is too long for the provider's unix socket (at most "
                          f"{room} bytes): set TMPDIR to a shorter directory")
    for _ in range(100):
        path = os.path.join(base, "tfprefect-" + os.urandom(6).hex())
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path
    raise OSError(f"cannot create a private directory in {base}")
