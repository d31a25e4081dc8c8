"""The Python runtime client: what AWS's ``/var/runtime/bootstrap`` does, in one file.

Run as a script with the host's interpreter (not ``-m``: importing the
``cloudlet`` package would add to every cold start). It speaks the Lambda
Runtime API at ``AWS_LAMBDA_RUNTIME_API`` over one kept-alive HTTP connection
with a few lines of socket code (no boto3 import: the handler pays for what it
imports, as on AWS), loads the handler module once so module state survives
across warm invocations, and reports errors in AWS's shape
(``errorMessage``/``errorType``/``stackTrace``). The function's stdout and
stderr are its log; the platform (the service) writes START/END/REPORT.

With SnapStart (``_CLOUDLET_SNAPSHOT_FD``, cloudlet's ``snapshots.py``) this process is
a version's snapshot: after Init it runs the before-snapshot hooks, says so at
``/restore/next`` and forks a new execution environment for each order on its control
socket; the environment runs the after-restore hooks and then serves invocations.
"""

import importlib
import json
import os
import socket
import stat
import sys
import time
import traceback

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = "/2018-06-01/runtime"
# The service's end of a socket pair: the same Runtime API, cheaper than loopback TCP.
# Not the function's business: gone from its environment, not inherited by its children.
PRIVATE_FD = os.environ.pop("_CLOUDLET_RUNTIME_FD", None)


class Identity:
    def __init__(self, doc):
        self.cognito_identity_id = doc.get("cognitoIdentityId")
        self.cognito_identity_pool_id = doc.get("cognitoIdentityPoolId")


class Client:
    def __init__(self, doc):
        self.installation_id = doc.get("installation_id")
        self.app_title = doc.get("app_title")
        self.app_version_name = doc.get("app_version_name")
        self.app_version_code = doc.get("app_version_code")
        self.app_package_name = doc.get("app_package_name")


class ClientContext:
    def __init__(self, doc):
        self.client = Client(doc.get("client") or {}) if doc.get("client") else None
        self.custom = doc.get("custom")
        self.env = doc.get("env")


class LambdaContext:
    def __init__(self, request_id, deadline_ms, arn, client_context, identity):
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = ClientContext(json.loads(client_context)) if client_context else None
        self.identity = Identity(json.loads(identity) if identity else {})
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


def error_doc(exc, error_type=None, request_id=""):
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    stack = traceback.format_list(frames)
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": request_id,
        "stackTrace": stack,
    }


class Api:
    """A minimal HTTP/1.1 client on one kept-alive socket: the Runtime API always answers
    with a Content-Length, and ``http.client``'s header parsing (``email``) would cost
    more than the rest of a warm invocation's round trip."""

    def __init__(self):
        host, _, port = API.partition(":")
        self.address = (host, int(port or 80))
        self.sock = None
        self.buf = b""

    def _connect(self):
        global PRIVATE_FD
        self.buf = b""
        if PRIVATE_FD is not None:
            # Used once: if it breaks, the runtime reconnects over TCP.
            self.sock = socket.socket(fileno=int(PRIVATE_FD))
            PRIVATE_FD = None
            self.sock.set_inheritable(False)
            return
        self.sock = socket.create_connection(self.address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _encode(self, method, path, body=None, headers=None):
        head = f"{method} {BASE}{path} HTTP/1.1\r\nHost: {API}\r\n"
        for k, v in (headers or {}).items():
            head += f"{k}: {v}\r\n"
        return (head + f"Content-Length: {len(body or b'')}\r\n\r\n").encode() + (body or b"")

    def request(self, method, path, body=None, headers=None):
        data = self._encode(method, path, body, headers)
        for attempt in (0, 1):
            try:
                if self.sock is None:
                    self._connect()
                self.sock.sendall(data)
                return self._response()
            except OSError:
                self.close()
                if attempt:
                    raise
        raise RuntimeError("unreachable")

    def post_then_next(self, path, body, headers=None):
        """POST a result and ask for the next event in one write (HTTP pipelining): the
        acknowledgement is read, then the next event (blocking until there is one)."""
        data = self._encode("POST", path, body, headers) + self._encode("GET", "/invocation/next")
        try:
            if self.sock is None:
                self._connect()
            self.sock.sendall(data)
            self._response()
            return self._response()
        except OSError:
            self.close()
            return self.request("GET", "/invocation/next")

    def _response(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("Runtime API closed the connection")
        self.buf += chunk

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def post_error(self, path, doc):
        body = json.dumps(doc).encode()
        headers = {"Lambda-Runtime-Function-Error-Type": doc["errorType"]}
        self.request("POST", path, body, headers)


def load_handler(api):
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", os.getcwd()))
    spec = os.environ["_HANDLER"]
    module_name, _, fn_name = spec.rpartition(".")
    try:
        if not module_name:
            raise ValueError(
                f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)"
            )
        try:
            module = importlib.import_module(module_name.replace("/", "."))
        except ImportError as exc:
            exc_msg = f"Unable to import module '{module_name}': {exc}"
            raise _Typed("Runtime.ImportModuleError", exc_msg) from None
        except SyntaxError as exc:
            raise _Typed(
                "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
            ) from None
        fn = getattr(module, fn_name, None)
        if fn is None:
            raise _Typed(
                "Runtime.HandlerNotFound", f"Handler '{fn_name}' missing on module '{module_name}'"
            )
        return fn
    except _Typed as exc:
        doc = exc.doc()
        print(f"[ERROR] {exc.error_type}: {exc.message}", flush=True)
        api.post_error("/init/error", doc)
        sys.exit(1)
    except BaseException as exc:  # noqa: BLE001 - module-level code raised: an init error
        doc = error_doc(exc)
        print(f"[ERROR] {doc['errorType']}: {doc['errorMessage']}", flush=True)
        api.post_error("/init/error", doc)
        sys.exit(1)


class _Typed(Exception):
    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type = error_type
        self.message = message

    def doc(self):
        """The error document of a runtime-detected error (no stack: not the function's)."""
        return {
            "errorMessage": self.message,
            "errorType": self.error_type,
            "requestId": "",
            "stackTrace": [],
        }


def reach_endpoint_subdomains():
    """Names made by prefixing the endpoint's host resolve to it.

    SDKs put labels in front of the endpoint's host: WriteGetObjectResponse's
    ``{RequestRoute}.``, an S3 access point's ``<name>-<account>.``, S3 Control's
    ``<account>.``; Object Lambda's ``inputS3Url`` names an access point that way too.
    On AWS those names are in DNS; ``io-1.127.0.0.1`` and ``io-1.localhost`` are in no
    resolver, so they are looked up as the endpoint's host here (the Host header still
    carries the whole name, which is what cloudlet reads).
    """
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or ""
    host = endpoint.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]").lower()
    if not host:
        return
    suffix = "." + host
    original = socket.getaddrinfo

    def getaddrinfo(name, *args, **kwargs):
        if isinstance(name, str) and name.lower().rstrip(".").endswith(suffix):
            name = host
        return original(name, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def run_hooks(hooks, error_type, api, path, code):
    """Run runtime hooks; one that raises is reported at ``path`` and ends the process."""
    try:
        for fn, args, kwargs in hooks:
            fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the function's hook failed
        doc = error_doc(exc, error_type)
        print(f"[ERROR] {error_type}: {doc['errorMessage']}", flush=True)
        api.post_error(path, doc)
        sys.exit(code)


def serve_snapshot(api, hooks, control_fd):
    """Be the version's snapshot: returns only in a restored environment, with its API."""
    before = list(reversed(hooks.get_before_snapshot()))  # last registered runs first
    run_hooks(before, "Runtime.BeforeSnapshotError", api, "/init/error", 64)
    api.request("GET", "/restore/next")
    api.close()
    control = socket.socket(fileno=control_fd)
    while True:
        try:
            order, fds, _, _ = socket.recv_fds(control, 65536, 2)
        except OSError:
            order = b""
        if not order:
            os._exit(0)  # the server closed the control socket: the snapshot is deleted
        try:
            restored = fork_environment(control, json.loads(order), fds, hooks)
        except (OSError, ValueError) as exc:  # no fork (memory, process limit), bad order
            print(f"[ERROR] Runtime.RestoreError: {exc}", flush=True)
            control.send(b'{"pid": 0}')
            continue
        if restored is not None:
            return restored


def fork_environment(control, order, fds, hooks):
    """Fork one environment, twice so that it is orphaned at once (the server, a
    subreaper, becomes its parent) and in a session of its own. None in the template."""
    runtime_fd, log_fd = fds
    rng = sys.modules.get("random")
    state = rng.getstate() if rng is not None else None  # a snapshot's generator state
    try:
        reader, writer = os.pipe()
        middle = os.fork()
    except OSError:
        os.close(runtime_fd)
        os.close(log_fd)
        raise
    if middle == 0:
        os.close(reader)
        os.setsid()
        forked_at = time.monotonic()
        try:
            pid = os.fork()
        except OSError:
            os._exit(1)
        if pid == 0:
            os.close(writer)
            control.close()
            return restore(order, runtime_fd, log_fd, state, hooks)
        os.write(writer, f"{pid} {forked_at}".encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        said = pipe.read().split()
    os.waitpid(middle, 0)
    os.close(runtime_fd)
    os.close(log_fd)
    pid, forked_at = (int(said[0]), float(said[1])) if len(said) == 2 else (0, 0.0)
    control.send(json.dumps({"pid": pid, "pgid": middle, "forked_at": forked_at}).encode())
    return None


def restore(order, runtime_fd, log_fd, state, hooks):
    """In the new environment: its own output, Runtime API and credentials, the
    snapshot's random state, Init's connections gone; then the after-restore hooks."""
    global API, PRIVATE_FD
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    drop_connections(keep={0, 1, 2, runtime_fd})
    if state is not None:
        sys.modules["random"].setstate(state)  # CPython reseeds it in a forked child
    API = order["api"]
    os.environ["AWS_LAMBDA_RUNTIME_API"] = API
    for key, value in (order.get("env") or {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    PRIVATE_FD = str(runtime_fd)
    api = Api()
    run_hooks(hooks.get_after_restore(), "Runtime.AfterRestoreError", api, "/restore/error", 65)
    return api


def drop_connections(keep):
    """TCP connections Init opened are gone after a restore (a microVM's are): each is
    replaced by an unconnected socket, so a client sees it dropped and reconnects,
    rather than sharing it with the template's other environments."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return
    for name in names:
        fd = int(name)
        if fd in keep:
            continue
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            probe = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        family = probe.family
        try:
            if family not in (socket.AF_INET, socket.AF_INET6) or probe.type != socket.SOCK_STREAM:
                continue
            probe.getpeername()  # connected; listening and unconnected sockets stay
        except OSError:
            continue
        finally:
            probe.close()
        dead = socket.socket(family, socket.SOCK_STREAM)
        os.dup2(dead.fileno(), fd, inheritable=False)
        dead.close()


def main():
    reach_endpoint_subdomains()
    api = Api()
    snapshot_fd = os.environ.pop("_CLOUDLET_SNAPSHOT_FD", None)
    hooks = None
    if snapshot_fd is not None:
        # The runtime's copy, imported before the function's path is in front of it.
        import snapshot_restore_py as hooks
    handler = load_handler(api)
    if hooks is not None:
        api = serve_snapshot(api, hooks, int(snapshot_fd))
    pending = api.request("GET", "/invocation/next")
    while True:
        _, h, body = pending
        request_id = h.get("lambda-runtime-aws-request-id", "")
        os.environ["_X_AMZN_TRACE_ID"] = h.get("lambda-runtime-trace-id", "")
        ctx = LambdaContext(
            request_id,
            int(h.get("lambda-runtime-deadline-ms", "0")),
            h.get("lambda-runtime-invoked-function-arn"),
            h.get("lambda-runtime-client-context"),
            h.get("lambda-runtime-cognito-identity"),
        )
        fatal = False
        try:
            event = json.loads(body) if body else {}
            result = handler(event, ctx)
            try:
                out = json.dumps(result).encode()
            except (TypeError, ValueError) as exc:
                raise _Typed("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None
            sys.stdout.flush()
            sys.stderr.flush()
            pending = api.post_then_next(f"/invocation/{request_id}/response", out)
            continue
        except _Typed as exc:
            doc = exc.doc()
        except MemoryError as exc:
            doc = error_doc(exc, request_id=request_id)
            fatal = True
        except SystemExit as exc:
            doc = {
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status {exc.code or 0}",
                "errorType": "Runtime.ExitError",
            }
            fatal = True
        except Exception as exc:  # noqa: BLE001 - the function's error, reported to the caller
            doc = error_doc(exc, request_id=request_id)
        if doc["errorType"] != "Runtime.ExitError":
            # What AWS's Python runtime logs for an unhandled exception.
            trace = "".join(doc.get("stackTrace") or [])
            print(
                f"[ERROR] {doc['errorType']}: {doc['errorMessage']}\nTraceback (most recent call last):\n{trace}",
                end="",
                flush=True,
            )
        sys.stderr.flush()
        if fatal:
            api.post_error(f"/invocation/{request_id}/error", doc)
            os._exit(1)
        error_headers = {"Lambda-Runtime-Function-Error-Type": doc["errorType"]}
        pending = api.post_then_next(
            f"/invocation/{request_id}/error", json.dumps(doc).encode(), error_headers
        )


if __name__ == "__main__":
    main()
