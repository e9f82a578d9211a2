"""The tfplugin6 gRPC server: the go-plugin handshake, in-memory TLS, and the Provider service
behind it (``servicer``, loaded right after the handshake line).

Terraform starts the provider three times a plan, so what comes before the handshake line is
kept to what it needs: gRPC and a fresh certificate (``tls``). The services are registered with
gRPC as one generic handler (``_Services``) whose generated tfplugin6 stubs of ``tf.gen`` (their
protobuf descriptors are a fifth of the start) and the servicer's modules load after the line is
out, while Terraform connects (a first call that arrives sooner waits for the same imports), and
the servicer itself (``servicer``) is made on the first Provider call (only the stubs come from
``tf.gen``: the servicer and runner are ours). Terraform waits for the process to exit after
each start: once its Shutdown is answered, the process leaves without the interpreter's teardown
(``main``).
"""

from __future__ import annotations

import base64
import os
import sys
import threading
from concurrent import futures
from typing import Any

import grpc

from reconciler.provider import tls


class _OnFirstCall:
    """Stands in for ``servicer.ProviderServicer`` when the gRPC server is built, and creates it
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

    def __getattr__(self, name: str) -> Any:
        if not name[:1].isupper():  # the RPC methods; anything else is not ours to answer
            raise AttributeError(name)
        return lambda request, context: getattr(self._real(), name)(request, context)


class _Collected:
    """What the generated ``add_*_to_server`` functions register, kept instead of a server's."""

    def __init__(self) -> None:
        self.handlers: list[Any] = []

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self.handlers.extend(handlers)

    def add_registered_method_handlers(self, service: str, handlers: Any) -> None:
        """The same methods as the generic handler it registers too: nothing more to keep."""


class _Services(grpc.GenericRpcHandler):
    """The Provider, GRPCController and GRPCStdio services as one generic handler, whose stubs
    load (``_register``) when the first call arrives, not before the handshake line."""

    def __init__(self, stopped: threading.Event) -> None:
        self._stopped = stopped
        self._lock = threading.Lock()
        self._handlers: list[Any] | None = None

    def load(self) -> list[Any]:
        """The handlers, registered (and the stubs imported) on the first use."""
        with self._lock:
            if self._handlers is None:
                collected = _Collected()
                _register(collected, self._stopped)
                self._handlers = collected.handlers
            return self._handlers

    def service(self, handler_call_details: Any) -> Any:
        for handler in self.load():
            found = handler.service(handler_call_details)
            if found is not None:
                return found
        return None


def _register(server: Any, stopped: threading.Event) -> None:
    from tf.gen import grpc_controller_pb2 as controller_pb
    from tf.gen import grpc_controller_pb2_grpc as controller_rpc
    from tf.gen import grpc_stdio_pb2_grpc as stdio_rpc
    from tf.gen import tfplugin_pb2_grpc as rpc

    class Controller(controller_rpc.GRPCControllerServicer):
        def Shutdown(self, request: Any, context: Any) -> Any:
            stopped.set()
            return controller_pb.Empty()

    class Stdio(stdio_rpc.GRPCStdioServicer):
        def StreamStdio(self, request: Any, context: Any) -> Any:
            return iter(())

    rpc.add_ProviderServicer_to_server(_OnFirstCall(), server)
    controller_rpc.add_GRPCControllerServicer_to_server(Controller(), server)
    stdio_rpc.add_GRPCStdioServicer_to_server(Stdio(), server)


def serve() -> int:
    """Serve until Terraform shuts the plugin down; print the handshake line first."""
    stopped = threading.Event()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    services = _Services(stopped)
    server.add_generic_rpc_handlers((services,))

    key_pem, cert_pem, cert_der = tls.certificate()
    # Terraform's client certificate (PLUGIN_CLIENT_CERT) is ECDSA P-521, which the gRPC TLS stack does not
    # request, so client auth cannot be required; the socket's 0700 directory keeps other users out.
    credentials = grpc.ssl_server_credentials([(key_pem, cert_pem)], require_client_auth=False)
    tmp = _private_directory()
    sock = os.path.join(tmp, _SOCKET_NAME)
    try:
        server.add_secure_port(f"unix://{sock}", credentials)
        server.start()
        cert_b64 = base64.b64encode(cert_der).decode().rstrip("=")
        sys.stdout.write(f"1|6|unix|{sock}|grpc|{cert_b64}\n")
        sys.stdout.flush()
        try:
            # Every start's first call needs the stubs and the servicer's modules: load them now,
            # while Terraform connects, instead of after its first call arrives (a call that comes
            # first waits for the same imports under the import lock, never for more).
            services.load()
            import reconciler.provider.servicer  # noqa: F401

            stopped.wait()  # wakes as soon as the Shutdown RPC sets it (and on a signal)
        except KeyboardInterrupt:
            pass
        # Terraform waits for this process to exit before it goes on: let the Shutdown answer go
        # out (the RPCs in flight end, at most 0.2 s), and no longer.
        server.stop(grace=0.2).wait(0.2)
    finally:
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
