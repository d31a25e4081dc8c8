"""Where Lambda's state lives: function and layer documents, code zips, extracted trees.

Functions are few and read on every invoke, so each is one JSON document held
in memory and written through to SQLite (``DocumentStore``). A function's
versions, aliases, policy, URL and invoke configs live inside its document:
they are always read together and deleted together. Code is stored once per
content hash as a zip file and extracted once into a directory that every
worker of every version using that code shares read-only; with ``--ephemeral``
all of it goes to a temporary directory removed at stop.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from cloudlet.services.awslambda import errors
from cloudlet.services.base import ServiceEnv
from cloudlet.state.documents import DocumentStore

Key = tuple[str, str, str]
"""(account, region, name)"""


class LambdaStore:
    def __init__(self, env: ServiceEnv) -> None:
        self._tmp: str | None = None
        if env.data_dir is None:
            self._tmp = tempfile.mkdtemp(prefix="cloudlet-lambda-")
            self.root = Path(self._tmp)
        else:
            self.root = Path(env.data_dir) / "lambda"
        for sub in ("code", "tree", "opt", "workers"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.docs = DocumentStore(env.database("lambda"))
        self.functions: dict[Key, dict[str, Any]] = {}
        self.layers: dict[Key, dict[str, Any]] = {}
        self._reserved: dict[tuple[str, str], int] = {}
        """Reserved concurrency summed by (account, Region); dropped on every function
        write, read on every invocation of a function without a reservation."""
        for doc in self.docs.load("function"):
            self.functions[(doc["account"], doc["region"], doc["name"])] = doc
        for doc in self.docs.load("layer"):
            self.layers[(doc["account"], doc["region"], doc["name"])] = doc

    # -- documents ----------------------------------------------------------

    def save_function(self, doc: dict[str, Any]) -> None:
        key = (doc["account"], doc["region"], doc["name"])
        self.functions[key] = doc
        self._reserved.clear()
        self.docs.put("function", "/".join(key), doc)

    def delete_function(self, doc: dict[str, Any]) -> None:
        key = (doc["account"], doc["region"], doc["name"])
        self.functions.pop(key, None)
        self._reserved.clear()
        self.docs.delete("function", "/".join(key))

    def reserved_total(self, account: str, region: str) -> int:
        """Concurrency reserved by the functions of one account in one Region (the
        limits are regional)."""
        total = self._reserved.get((account, region))
        if total is None:
            total = self._reserved[(account, region)] = sum(
                d["reserved"] or 0
                for d in self.functions.values()
                if d["account"] == account and d["region"] == region
            )
        return total

    def save_layer(self, doc: dict[str, Any]) -> None:
        key = (doc["account"], doc["region"], doc["name"])
        self.layers[key] = doc
        self.docs.put("layer", "/".join(key), doc)

    # -- code -----------------------------------------------------------------

    def put_code(self, data: bytes) -> tuple[str, str, int]:
        """Store a zip; (hex digest, AWS's base64 CodeSha256, size)."""
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                bad = zf.testzip()
        except (zipfile.BadZipFile, ValueError, EOFError):
            bad = "?"
        if bad is not None:
            raise errors.invalid(
                "Could not unzip uploaded file. Please check your file, then try to upload again."
            )
        digest = hashlib.sha256(data)
        hexsha = digest.hexdigest()
        path = self.root / "code" / f"{hexsha}.zip"
        if not path.exists():
            tmp = path.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        return hexsha, base64.b64encode(digest.digest()).decode(), len(data)

    def zip_path(self, hexsha: str) -> Path:
        return self.root / "code" / f"{hexsha}.zip"

    def tree(self, hexsha: str) -> Path:
        """The extracted code (shared by every worker using it), extracted on first use."""
        target = self.root / "tree" / hexsha
        if not target.exists():
            _extract(self.zip_path(hexsha), target)
        return target

    def opt_dir(self, layer_shas: list[str]) -> Path | None:
        """The ``/opt`` equivalent: the function's layers extracted in order (later ones
        overwrite earlier files, as Lambda merges them)."""
        if not layer_shas:
            return None
        name = hashlib.sha256("/".join(layer_shas).encode()).hexdigest()[:32]
        target = self.root / "opt" / name
        if not target.exists():
            part = target.with_name(name + ".part")
            shutil.rmtree(part, ignore_errors=True)
            part.mkdir(parents=True)
            for sha in layer_shas:
                with zipfile.ZipFile(self.zip_path(sha)) as zf:
                    _extract_all(zf, part)
            part.replace(target)
        return target

    def worker_dir(self, worker_id: str) -> Path:
        path = self.root / "workers" / worker_id
        path.mkdir(parents=True, exist_ok=True)
        (path / "tmp").mkdir(exist_ok=True)
        return path

    def close(self) -> None:
        self.docs.close()
        shutil.rmtree(self.root / "workers", ignore_errors=True)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


def _extract(zip_path: Path, target: Path) -> None:
    part = target.with_name(target.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as zf:
        _extract_all(zf, part)
    part.replace(target)


def _extract_all(zf: zipfile.ZipFile, target: Path) -> None:
    """Extract keeping the Unix permission bits (a ``bootstrap`` must stay executable)."""
    for info in zf.infolist():
        path = Path(zf.extract(info, target))
        mode = (info.external_attr >> 16) & 0o777
        if mode and not info.is_dir():
            path.chmod(mode)
        elif not info.is_dir() and path.name == "bootstrap":
            path.chmod(0o755)
