"""The environment an instance's processes start with.

Why apart from ``instances.py``: it is where an instance meets everything
outside it (cloudlet's endpoint and credentials, its metadata service, the
network shims and its VPC's address map), while ``instances.py`` is about
processes and states. What the variables mean to programs inside is in the
README's EC2 section; ``cloudlet/runtime/shim`` says what the shims do with
theirs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from cloudlet.runtime import shim
from cloudlet.services.ec2.vpc_addresses import VpcAddresses

if TYPE_CHECKING:  # instances.py imports this module
    from cloudlet.services.ec2.instances import Instance


def steer_network(env: dict[str, str], address: str) -> None:
    """Give the instance its own view of the network (see ``cloudlet/runtime/shim``):
    wildcard and localhost binds land on ``address``, localhost connections reach the
    instance's own services, except those to cloudlet's endpoints on this machine."""
    ports = []
    for key in ("AWS_ENDPOINT_URL", "AWS_EC2_METADATA_SERVICE_ENDPOINT"):
        try:
            url = urlsplit(env.get(key, ""))
            if url.hostname in ("127.0.0.1", "localhost", "0.0.0.0", "::1") and url.port:
                ports.append(str(url.port))
        except ValueError:
            continue
    env["CLOUDLET_BIND_ADDR"] = address
    env["CLOUDLET_ENDPOINT_PORT"] = ",".join(dict.fromkeys(ports))
    python_path = [str(shim.PYTHON_DIR)]
    if env.get("PYTHONPATH"):
        python_path.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(python_path)
    library = shim.preload_library()
    if library is not None:
        env["LD_PRELOAD"] = " ".join(filter(None, [str(library), env.get("LD_PRELOAD", "")]))


def environment(
    inst: Instance,
    directory: Path,
    run_user_data: bool,
    endpoint: str,
    vpc_maps: VpcAddresses,
) -> dict[str, str]:
    """The boot process's environment (inherited by everything the instance runs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CLOUDLET_"))}
    env.update(
        {
            "PATH": f"{directory / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(directory / "home"),
            "CLOUDLET_INSTANCE_ID": inst.id,
            "CLOUDLET_INSTANCE_DIR": str(directory),
            "CLOUDLET_PRIVATE_IP": inst.private_ip,
            "CLOUDLET_RUN_USER_DATA": "1" if run_user_data else "0",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": inst.region,
            "AWS_REGION": inst.region,
            # The instance's own metadata service (cloudlet/services/ec2/imds.py).
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": (
                f"{endpoint.rstrip('/')}/_cloudlet/imds/{inst.id}"
            ),
            "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv4",
        }
    )
    if inst.iam_profile:
        # Role credentials come from the metadata service, as on EC2.
        del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    steer_network(env, inst.private_ip)
    env.update(vpc_maps.environment(inst))
    return env
