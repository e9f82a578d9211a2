"""Benchmark: the provider process's CPU per gRPC call and its start up to the handshake line.

Starts the provider as Terraform does (``python -m reconciler.provider.main`` with the magic
cookie), calls it through grpcio's client (a dev dependency) and reads the provider's own CPU time
(``/proc/<pid>/stat``: user + system, so the client's work is not counted) around N calls: one at
a time, then 10 in flight on one connection (Terraform's -parallelism). Two calls: GetMetadata (a
small answer built each time) and ValidateResourceConfig of an unknown type (a request parsed, a
diagnostic answered): what they cost is mostly the transport's. Then, when valgrind is installed,
the instructions of a start up to the handshake line (``valgrind --tool=callgrind``, every
thread), beside a bare ``python -c pass`` of the same interpreter: figures that do not depend on
the machine's load. ``--python`` and ``--root`` measure another checkout (e.g. main's) the same way.

Usage: .venv/bin/python bench/provider_calls.py [--calls 2000] [--python PY --root DIR] [--no-callgrind]
Linux only (``/proc``). Asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COOKIE = {"TF_PLUGIN_MAGIC_COOKIE": "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
          "PLUGIN_PROTOCOL_VERSIONS": "6"}

HANDSHAKE_ONLY = """
import os, sys
class Out:
    def write(self, s):
        os.write(1, s.encode())
        if s.endswith("\\n"):
            os._exit(0)  # the handshake line is out: what Terraform waited for
    def flush(self):
        pass
sys.stdout = Out()
os.environ["TMPDIR"] = sys.argv[1]
from reconciler.provider.main import main
main()
"""


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def calls(python: str, root: Path, count: int) -> None:
    import grpc
    from tf.gen import grpc_controller_pb2 as controller_pb
    from tf.gen import tfplugin_pb2 as pb

    socket_dir = tempfile.mkdtemp(prefix="pcb-", dir="/tmp")
    proc = subprocess.Popen([python, "-m", "reconciler.provider.main"], env={**os.environ, **COOKIE, "TMPDIR": socket_dir},
                            stdout=subprocess.PIPE, cwd=root)
    try:
        assert proc.stdout is not None
        parts = proc.stdout.readline().decode().strip().split("|")
        der = base64.b64decode(parts[5] + "=" * (-len(parts[5]) % 4))
        pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"
        channel = grpc.secure_channel(f"unix:{parts[3]}", grpc.ssl_channel_credentials(root_certificates=pem),
                                      options=[("grpc.ssl_target_name_override", "localhost")])

        def unary(name: str, request_cls: type, response_cls: type) -> object:
            return channel.unary_unary(f"/tfplugin6.Provider/{name}", request_serializer=request_cls.SerializeToString,
                                       response_deserializer=response_cls.FromString)

        metadata = unary("GetMetadata", pb.GetMetadata.Request, pb.GetMetadata.Response)
        validate = unary("ValidateResourceConfig", pb.ValidateResourceConfig.Request,
                         pb.ValidateResourceConfig.Response)
        cases = [("GetMetadata", lambda: metadata(pb.GetMetadata.Request(), timeout=60)),
                 ("ValidateResourceConfig (unknown type)",
                  lambda: validate(pb.ValidateResourceConfig.Request(type_name="prefect_nothing"), timeout=60))]
        for _, call in cases:
            for _ in range(50):  # warm: imports, the servicer, the connection's windows
                call()
        for name, call in cases:
            for in_flight in (1, 10):
                def run(n: int, call: object = call) -> None:
                    for _ in range(n):
                        call()  # type: ignore[operator]

                threads = [threading.Thread(target=run, args=(count // in_flight,)) for _ in range(in_flight)]
                cpu, start = _cpu(proc.pid), time.perf_counter()
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                cpu, wall = _cpu(proc.pid) - cpu, time.perf_counter() - start
                done = count // in_flight * in_flight
                print(f"{name}, {in_flight} in flight: provider CPU {cpu / done * 1e6:.0f} us a call, "
                      f"wall {wall / done * 1e6:.0f} us a call ({done} calls)")
        controller = channel.unary_unary("/plugin.GRPCController/Shutdown",
                                         request_serializer=controller_pb.Empty.SerializeToString,
                                         response_deserializer=controller_pb.Empty.FromString)
        controller(controller_pb.Empty(), timeout=60)
        print(f"exit status after Shutdown: {proc.wait(30)}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(socket_dir, ignore_errors=True)


def instructions(python: str, root: Path, code: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="pcb-", dir="/tmp") as tmp:
        out = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.%p", python, *code, tmp],
                             env={**os.environ, **COOKIE}, cwd=root, capture_output=True, text=True, timeout=600)
        found = re.search(r"Collected : (\d+)", out.stderr)
        if not found:
            raise SystemExit(f"callgrind said:\n{out.stderr}")
        return int(found.group(1))


LAUNCH_CLIENT = """
import base64, json, os, subprocess, sys
import grpc, msgpack
from tf.gen import grpc_controller_pb2 as controller_pb
from tf.gen import tfplugin_pb2 as pb

out, kind, python, counted = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "counted"
tool = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.%p"] if counted else []
proc = subprocess.Popen([*tool, python, "-m", "reconciler.provider.main"], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, env={**os.environ, "TMPDIR": out})
parts = proc.stdout.readline().decode().strip().split("|")
der = base64.b64decode(parts[5] + "=" * (-len(parts[5]) % 4))
pem = b"-----BEGIN CERTIFICATE-----\\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\\n"
channel = grpc.secure_channel(f"unix:{parts[3]}", grpc.ssl_channel_credentials(root_certificates=pem),
                              options=[("grpc.ssl_target_name_override", "localhost")])
call = lambda name, req, resp: channel.unary_unary(f"/tfplugin6.Provider/{name}", request_serializer=req.SerializeToString,
                                                   response_deserializer=resp.FromString)
if kind == "schema":  # Terraform's first start in a plan: the schema, then Close
    call("GetProviderSchema", pb.GetProviderSchema.Request, pb.GetProviderSchema.Response)(pb.GetProviderSchema.Request(), timeout=600, wait_for_ready=True)
else:  # its second: each resource block's configuration validated (a pool with a template, a queue)
    template = json.dumps({"job_configuration": {"command": "{{ command }}", "env": "{{ env }}"},
                           "variables": {"type": "object", "properties": {
                               "command": {"type": "string", "default": "python -m flows"},
                               "env": {"type": "object", "additionalProperties": {"type": "string"}}}}})
    pool = dict.fromkeys(["id", "created", "updated", "account_id", "workspace_id", "description", "paused",
                          "default_queue_id"])
    pool.update(name="bench-000", type="process", concurrency_limit=10, base_job_template=template)
    queue = {"id": None, "created": None, "updated": None, "account_id": None, "workspace_id": None,
             "work_pool_name": "bench-000", "name": "q0", "description": None, "is_paused": None,
             "concurrency_limit": None, "priority": 2}
    validate = call("ValidateResourceConfig", pb.ValidateResourceConfig.Request, pb.ValidateResourceConfig.Response)
    for type_name, config in (("prefect_work_pool", pool), ("prefect_work_queue", queue)):
        answer = validate(pb.ValidateResourceConfig.Request(type_name=type_name, config=pb.DynamicValue(
            msgpack=msgpack.packb(config))), timeout=600, wait_for_ready=True)
        assert not answer.diagnostics, answer.diagnostics
channel.unary_unary("/plugin.GRPCController/Shutdown", request_serializer=controller_pb.Empty.SerializeToString,
                    response_deserializer=controller_pb.Empty.FromString)(controller_pb.Empty(), timeout=600)
err = proc.communicate(timeout=600)[1].decode()
print(err)
"""


def launch_instructions(python: str, root: Path, kind: str) -> int:
    """Instructions of a whole provider process (callgrind) serving one start as Terraform's
    ``kind`` start of a plan does it: ``schema`` (GetProviderSchema) or ``validate``
    (ValidateResourceConfig of a pool with a template and of a queue), then Shutdown. A first
    start, not counted, writes the modules' bytecode (and the kept template checks) as
    Terraform's starts find them after the first."""
    with tempfile.TemporaryDirectory(prefix="pcb-", dir="/tmp") as tmp:
        for mode in ("warm-up", "counted"):
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            out = subprocess.run([sys.executable, "-c", LAUNCH_CLIENT, tmp, kind, python, mode],
                                 env={**env, **COOKIE}, cwd=root, capture_output=True, text=True, timeout=900)
            if out.returncode:
                raise SystemExit(f"the launch measure failed:\n{out.stdout}\n{out.stderr}")
        found = re.search(r"Collected : (\d+)", out.stdout)
        if not found:
            raise SystemExit(f"the launch measure failed:\n{out.stdout}\n{out.stderr}")
        return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs the provider")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout it runs from")
    parser.add_argument("--no-callgrind", action="store_true")
    parser.add_argument("--launches", action="store_true",
                        help="only the instructions of a schema start and of a validation start (callgrind)")
    args = parser.parse_args()
    print(f"provider: {args.python} in {args.root}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.launches:
        for kind in ("schema", "validate"):
            print(f"instructions of a {kind} start, start to exit (callgrind): "
                  f"{launch_instructions(args.python, args.root, kind) / 1e6:.1f} M")
        return 0
    calls(args.python, args.root, args.calls)
    if not args.no_callgrind and shutil.which("valgrind"):
        bare = instructions(args.python, args.root, ["-c", "pass"])
        start = instructions(args.python, args.root, ["-c", HANDSHAKE_ONLY])
        print(f"instructions up to the handshake line (callgrind): {start / 1e6:.1f} M "
              f"(bare `python -c pass`: {bare / 1e6:.1f} M)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
