"""Instances that really run: one directory and one process group each.

Life of an instance (see the README's EC2 section for the user-facing view):

- **Boot** spawns the *boot process* (``bash -c BOOT``) as the leader of a new
  session in ``<root>/instances/<id>/``. On the first boot only, it runs the
  user data (cloud-init style: only user data starting with ``#!``, as an
  executable, so its interpreter line is honoured); then it ``exec``s an idle
  ``sleep infinity`` so the instance keeps a process group whatever the user
  data does. Everything the group prints goes to ``console.log``. The
  instance is ``running`` as soon as the boot process has been started.
- **Memory**: the boot process gets ``RLIMIT_DATA`` = the instance type's
  documented memory (``catalog.memory_limit``), inherited by everything it
  starts, so a process allocating more than the instance has gets
  ``MemoryError``/``ENOMEM``. It limits each process, not their sum (no
  cgroups needed).
- **Network**: the instance's processes start with ``instance_env``'s
  environment: the network shims bind its servers to its own loopback
  address, and its VPC's address map (``vpc_addresses``), which lists it
  while it is ``pending`` or ``running``, lets them reach the other instances
  of its VPC at their private addresses.
- **Root volume**: ``<instance dir>/home`` (the working directory and
  ``HOME``) is the instance's disk: CreateImage copies it, and an instance of
  that image starts with a copy of it (``images``).
- **Stop / terminate** mark the instance ``stopping`` / ``shutting-down`` and
  stop the group in the background (SIGTERM, grace, SIGKILL, reap), then mark
  it ``stopped`` / ``terminated``. Stopped instances keep their directory;
  terminated ones lose it and stay visible for ``TERMINATED_VISIBLE`` seconds.
- **Shutdown from inside**: ``shutdown`` / ``poweroff`` / ``halt`` on the
  instance's PATH write a marker and SIGTERM the group; the monitor sees the
  boot process gone and follows InstanceInitiatedShutdownBehavior (``stop`` or
  ``terminate``). ``shutdown -r`` / ``reboot`` reboot the instance. A boot
  process that dies without the marker leaves the instance ``stopped``.
- **Server stop** stops every group without changing the recorded states, so
  the next start boots the instances that were running (user data not re-run).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from cloudlet.core.clock import clock
from cloudlet.core.ids import token_hex
from cloudlet.runtime import shim
from cloudlet.runtime.processes import ProcessGroup, kill_stale_group
from cloudlet.services.ec2 import catalog
from cloudlet.services.ec2.addresses import AddressBlock
from cloudlet.services.ec2.instance_env import environment
from cloudlet.services.ec2.store import Store
from cloudlet.services.ec2.vpc_addresses import VpcAddresses

log = logging.getLogger(__name__)

STATE_CODES = {
    "pending": 0,
    "running": 16,
    "shutting-down": 32,
    "terminated": 48,
    "stopping": 64,
    "stopped": 80,
}
TERMINATED_VISIBLE = 3600.0
STOP_GRACE = 3.0
SHUTDOWN_MARKER = ".shutdown-requested"
_EPHEMERAL_PREFIX = "cloudlet-ec2-"

BOOT = r"""
echo "cloudlet: instance $CLOUDLET_INSTANCE_ID booting at $(date -u +%FT%TZ)"
if [ "$CLOUDLET_RUN_USER_DATA" = 1 ]; then
  echo "cloudlet: running user data"
  "$CLOUDLET_INSTANCE_DIR/user-data"
  echo "cloudlet: user data exited with status $?"
fi
exec sleep infinity
"""

SHUTDOWN = r"""#!/bin/sh
# cloudlet: ask the instance to shut down (halt/poweroff) or reboot (-r).
action=halt
case "$(basename "$0")" in reboot) action=reboot ;; esac
for arg in "$@"; do
  case "$arg" in -r|--reboot) action=reboot ;; esac
done
echo "$action" > "$CLOUDLET_INSTANCE_DIR/.shutdown-requested"
echo "cloudlet: $action requested"
kill -TERM 0
"""


def _sweep_ephemeral_roots() -> None:
    """Remove ephemeral instance roots left by servers that died without cleaning up."""
    for root in Path(tempfile.gettempdir()).glob(_EPHEMERAL_PREFIX + "*"):
        try:
            owner = int((root / "owner").read_text())
        except (OSError, ValueError):
            continue
        if not psutil.pid_exists(owner):
            shutil.rmtree(root, ignore_errors=True)


@dataclass
class Instance:
    id: str
    account: str
    region: str
    reservation_id: str
    image_id: str
    instance_type: str
    zone: str
    subnet_id: str
    vpc_id: str
    private_ip: str
    launch_time: float
    ami_launch_index: int = 0
    key_name: str | None = None
    groups: list[dict[str, str]] = field(default_factory=list)
    user_data: str | None = None
    """Base64, as the API carries it."""
    shutdown_behavior: str = "stop"
    iam_profile: dict[str, str] | None = None
    client_token: str = ""
    state: str = "pending"
    transition_reason: str = ""
    state_reason: dict[str, str] | None = None
    user_data_done: bool = False
    pgid: int | None = None
    leader_started: float | None = None
    ended_at: float | None = None
    boot_count: int = 0
    metadata_options: dict[str, Any] | None = None
    """RunInstances/ModifyInstanceMetadataOptions ``MetadataOptions`` (see ``imds``)."""
    vpc_ip: str | None = None
    """Described private address in a created subnet (``vpcs``); ``private_ip`` is real."""
    tenancy: str = "default"
    public: bool = True
    """Has a public address (here the loopback one, reachable from the host)."""

    @property
    def address(self) -> str:
        """The private IPv4 address EC2 describes."""
        return self.vpc_ip or self.private_ip

    @property
    def user_data_bytes(self) -> bytes:
        return base64.b64decode(self.user_data) if self.user_data else b""


class InstanceEngine:
    """Instances of every account and region, their processes and their records."""

    def __init__(self, store: Store, data_dir: Path | None, endpoint: Callable[[], str]) -> None:
        self.store = store
        self.ephemeral = data_dir is None
        self._root_arg = data_dir
        self.root: Path | None = None
        self.endpoint = endpoint
        self.instances: dict[str, Instance] = {}
        self.groups: dict[str, ProcessGroup] = {}
        self._jobs: set[asyncio.Task] = set()
        self.closing = False
        self.block: AddressBlock | None = None
        for doc in store.load("instance"):
            inst = Instance(**doc)
            self.instances[inst.id] = inst
        self.vpc_maps = VpcAddresses(self._base, self.instances)

    # -- records -----------------------------------------------------------------

    def save(self, inst: Instance) -> None:
        self.store.put("instance", inst.id, dataclasses.asdict(inst))

    def _base(self) -> Path:
        if self.root is None:
            # Ephemeral: a private temporary root, made only once an instance needs
            # it (a server killed with SIGKILL cannot remove it) and removed at close.
            self.root = Path(tempfile.mkdtemp(prefix=_EPHEMERAL_PREFIX))
            (self.root / "owner").write_text(str(os.getpid()))
        return self.root

    def directory(self, inst: Instance) -> Path:
        return self._base() / "instances" / inst.id

    def image_directory(self, image_id: str) -> Path:
        """Where image ``image_id`` keeps its root volume (``home``): see ``images``."""
        return self._base() / "images" / image_id

    def allocate_ip(self) -> str:
        if self.block is None:
            self.block = self._claim_block()
        used = {i.private_ip for i in self.instances.values() if i.state != "terminated"}
        for ip in self.block.addresses():
            if ip not in used:
                return ip
        raise RuntimeError("no loopback address left for instances")

    def _claim_block(self) -> AddressBlock:
        """This server's address block: the one it had before, unless another server holds it."""
        saved = self.store.load("address-block")
        block = AddressBlock.claim(saved[0]["block"] if saved else None)
        self.store.put("address-block", "block", {"block": block.block})
        return block

    def new_instance(self, **fields: Any) -> Instance:
        inst = Instance(id="i-" + token_hex(9)[:17], private_ip=self.allocate_ip(), **fields)
        self.instances[inst.id] = inst
        self.save(inst)
        return inst

    def _set_state(self, inst: Instance, state: str, reason: str = "", code: str = "") -> None:
        inst.state = state
        if reason:
            stamp = clock.now().strftime("%Y-%m-%d %H:%M:%S GMT")
            inst.transition_reason = f"{reason} ({stamp})"
        if code:
            inst.state_reason = {"Code": code, "Message": code}
        elif state in ("pending", "running"):
            inst.state_reason = None
            inst.transition_reason = ""
        if state in ("stopped", "terminated"):
            inst.ended_at = clock.time()
        self.save(inst)
        self.vpc_maps.refresh(inst.vpc_id)

    # -- processes ---------------------------------------------------------------

    def _prepare(self, inst: Instance) -> Path:
        directory = self.directory(inst)
        (directory / "bin").mkdir(parents=True, exist_ok=True)
        home = directory / "home"
        if inst.boot_count == 0 and not home.exists():
            # The instance's root volume starts as its image's copy (CreateImage).
            disk = self.image_directory(inst.image_id) / "home"
            if disk.is_dir():
                shutil.copytree(disk, home, symlinks=True)
        home.mkdir(exist_ok=True)
        for name in ("shutdown", "poweroff", "halt", "reboot"):
            path = directory / "bin" / name
            path.write_text(SHUTDOWN)
            path.chmod(0o755)
        user_data = directory / "user-data"
        user_data.write_bytes(inst.user_data_bytes)
        user_data.chmod(0o755)
        (directory / SHUTDOWN_MARKER).unlink(missing_ok=True)
        return directory

    def boot(self, inst: Instance) -> None:
        """Start the instance's process group; it is ``running`` once that is started."""
        directory = self._prepare(inst)
        run_user_data = not inst.user_data_done and inst.user_data_bytes.startswith(b"#!")
        group = ProcessGroup.spawn(
            ["bash", "-c", BOOT, "cloudlet-boot"],
            cwd=directory / "home",
            env=environment(inst, directory, run_user_data, self.endpoint(), self.vpc_maps),
            log_path=directory / "console.log",
            limits=catalog.memory_limit(inst.instance_type),
            gated=True,  # user data forks at once: its processes must start limited
        )
        self.groups[inst.id] = group
        inst.pgid = group.pgid
        try:
            inst.leader_started = psutil.Process(group.pid).create_time()
        except psutil.Error:
            inst.leader_started = None
        inst.boot_count += 1
        if run_user_data:
            inst.user_data_done = True
        self._set_state(inst, "running")

    async def _halt(self, inst: Instance, grace: float = STOP_GRACE) -> None:
        group = self.groups.pop(inst.id, None)
        if group is not None:
            await group.astop(grace)
        inst.pgid = None
        inst.leader_started = None

    def _spawn_job(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)

    # -- transitions -------------------------------------------------------------

    def start(self, inst: Instance) -> None:
        self._set_state(inst, "pending")
        self.boot(inst)

    def stop(self, inst: Instance, reason: str = "User initiated", code: str = "") -> None:
        self._set_state(inst, "stopping", reason, code or "Client.UserInitiatedShutdown")
        self._spawn_job(self._finish_stop(inst))

    async def _finish_stop(self, inst: Instance) -> None:
        await self._halt(inst)
        if not self.closing and inst.state == "stopping":
            self._set_state(inst, "stopped")

    def terminate(self, inst: Instance, reason: str = "User initiated", code: str = "") -> None:
        self._set_state(inst, "shutting-down", reason, code or "Client.UserInitiatedShutdown")
        self._spawn_job(self._finish_terminate(inst))

    async def _finish_terminate(self, inst: Instance) -> None:
        await self._halt(inst)
        if self.closing:
            return
        self._set_state(inst, "terminated")
        if self.root is not None:
            shutil.rmtree(self.directory(inst), ignore_errors=True)

    def reboot(self, inst: Instance) -> None:
        self._spawn_job(self._finish_reboot(inst))

    async def _finish_reboot(self, inst: Instance) -> None:
        await self._halt(inst)
        if not self.closing and inst.state == "running":
            self.boot(inst)

    # -- supervision -------------------------------------------------------------

    def monitor(self) -> None:
        """Notice instances whose boot process ended (``shutdown`` inside, or a crash)."""
        for inst_id, group in list(self.groups.items()):
            inst = self.instances.get(inst_id)
            if inst is None or inst.state != "running" or not group.leader_exited():
                continue
            marker = self.directory(inst) / SHUTDOWN_MARKER
            action = marker.read_text().strip() if marker.exists() else ""
            if action == "reboot":
                self.reboot(inst)
            elif action and inst.shutdown_behavior == "terminate":
                self.terminate(
                    inst, "Client.InstanceInitiatedShutdown", "Client.InstanceInitiatedShutdown"
                )
            elif action:
                self.stop(
                    inst, "Client.InstanceInitiatedShutdown", "Client.InstanceInitiatedShutdown"
                )
            else:
                self.stop(inst, "Server.InternalError", "Server.InternalError")
        horizon = clock.time() - TERMINATED_VISIBLE
        for inst in list(self.instances.values()):
            if inst.state == "terminated" and (inst.ended_at or 0) < horizon:
                del self.instances[inst.id]
                self.store.delete("instance", inst.id)

    async def open(self) -> None:
        """Set up the instance root and bring instances back as they were."""
        # Compile the bind shim (first use on this machine) while the server starts.
        threading.Thread(target=shim.preload_library, name="bindshim", daemon=True).start()
        if self._root_arg is not None:
            self.root = self._root_arg / "ec2"
            self.root.mkdir(parents=True, exist_ok=True)
        else:
            _sweep_ephemeral_roots()
        self.block = self._claim_block()
        if self.root is not None:
            self.vpc_maps.reset()  # written again as instances boot, at their addresses now
        for inst in self.instances.values():
            if inst.pgid and inst.leader_started:
                kill_stale_group(inst.pgid, inst.leader_started)
            inst.pgid = inst.leader_started = None
            if inst.state != "terminated" and not self.block.contains(inst.private_ip):
                # Another server holds the old block now: a new address (as a new ENI would).
                inst.private_ip = self.allocate_ip()
            if inst.state in ("pending", "running"):
                try:
                    self.boot(inst)
                except OSError:
                    log.exception("booting %s failed", inst.id)
                    self._set_state(inst, "stopped", "Server.InternalError", "Server.InternalError")
            elif inst.state == "stopping":
                self._set_state(inst, "stopped")
            elif inst.state == "shutting-down":
                self._set_state(inst, "terminated")
            else:
                self.save(inst)

    async def close(self) -> None:
        """Stop every process group and reap it; recorded states are kept for restart."""
        self.closing = True
        # Jobs in flight end within their grace period; cancelling one mid-stop
        # could leave its processes running.
        await asyncio.gather(*self._jobs, return_exceptions=True)
        live = [inst for inst in self.instances.values() if inst.id in self.groups]
        await asyncio.gather(*(self._halt(i) for i in live), return_exceptions=True)
        for inst in self.instances.values():
            if inst.state == "stopping":
                self._set_state(inst, "stopped")
            elif inst.state == "shutting-down":
                self._set_state(inst, "terminated")
                shutil.rmtree(self.directory(inst), ignore_errors=True)
            else:
                self.save(inst)
        if self.ephemeral and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
        if self.block is not None:
            self.block.release()
            self.block = None

    def process_ids(self) -> dict[str, int]:
        """Process group id of every instance with processes (health, tests)."""
        return {inst_id: group.pgid for inst_id, group in self.groups.items()}
