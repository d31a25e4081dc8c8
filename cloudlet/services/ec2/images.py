"""EC2 images: the built-in one, and images captured from instances (CreateImage).

An instance's disk is its ``home`` directory (``<instance dir>/home``, its
working directory and ``HOME``): whatever its user data left there. CreateImage
copies it to ``<root>/images/<ami-id>/home`` (``<data dir>/ec2`` or the
ephemeral temporary root); the image is ``pending`` until the copy is done, then
``available``. Without ``NoReboot`` the instance's processes are stopped around
the copy and booted again afterwards (a reboot: user data does not run again),
so the disk is captured consistently, as AWS does; with ``NoReboot`` it is
copied while the instance runs. An instance launched from the image starts with
a copy of that disk (``InstanceEngine._prepare``) and still runs its own user
data on first boot. Well-formed ids that are not registered keep running the
built-in image; a deregistered image's id is not found.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import token_hex
from cloudlet.services.ec2 import catalog, errors, filters
from cloudlet.services.ec2.instances import Instance, InstanceEngine
from cloudlet.services.ec2.store import Store
from cloudlet.services.ec2.tags import Tags, tag_list

Result = dict[str, Any]
_NAME = re.compile(r"^[a-zA-Z0-9()\[\] ./\-'@_]{3,128}$")
_IMAGE_FILTERS: dict[str, Any] = {
    "image-id": lambda i: i["ImageId"],
    "name": lambda i: i["Name"],
    "description": lambda i: i.get("Description"),
    "architecture": lambda i: i["Architecture"],
    "state": lambda i: i["State"],
    "owner-alias": lambda i: i.get("ImageOwnerAlias"),
    "owner-id": lambda i: i["OwnerId"],
    "is-public": lambda i: str(i["Public"]).lower(),
    "image-type": lambda i: i["ImageType"],
    "root-device-type": lambda i: i["RootDeviceType"],
    "virtualization-type": lambda i: i["VirtualizationType"],
    "platform-details": lambda i: i["PlatformDetails"],
    "source-instance-id": lambda i: i.get("SourceInstanceId"),
}


class Images:
    """Images registered by CreateImage, every account's, written through to the store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.by_id: dict[str, Result] = {d["ImageId"]: d for d in store.load("image")}
        for doc in self.by_id.values():
            if doc["State"] == "pending":  # the server stopped during the copy
                doc["State"] = "failed"
                self.save(doc)

    def save(self, doc: Result) -> None:
        self.store.put("image", doc["ImageId"], doc)

    def mine(self, ctx: Any) -> list[Result]:
        return [
            d
            for d in self.by_id.values()
            if d["OwnerId"] == ctx.account_id
            and d["_region"] == ctx.region
            and d["State"] != "deregistered"
        ]

    def get(self, ctx: Any, image_id: str) -> Result | None:
        """The registered image ``image_id`` of this account and region (deregistered too)."""
        doc = self.by_id.get(image_id)
        if doc is None or doc["OwnerId"] != ctx.account_id or doc["_region"] != ctx.region:
            return None
        return doc

    def check_launchable(self, ctx: Any, image_id: str) -> None:
        """RunInstances' check: a registered image must be available."""
        doc = self.by_id.get(image_id)
        if doc is None:
            return
        if doc["State"] == "deregistered" or self.get(ctx, image_id) is None:
            raise errors.ami_not_found(image_id)
        if doc["State"] != "available":
            raise ServiceError(
                "InvalidAMIID.Unavailable", f"The image id '[{image_id}]' is not available"
            )


def _shape(doc: Result) -> Result:
    out = catalog.image(doc["ImageId"], doc["_region"])
    del out["ImageOwnerAlias"]
    out.update({k: v for k, v in doc.items() if not k.startswith("_")})
    out["ImageLocation"] = f"{doc['OwnerId']}/{doc['Name']}"
    if not out.get("Description"):
        out.pop("Description", None)
    return out


class ImageOps:
    """Image operations, mixed into ``Ec2Service``."""

    engine: InstanceEngine
    images: Images
    tags: Tags

    def _image_with_tags(self, item: Result) -> Result:
        tags = self.tags.of(item["ImageId"])
        return {**item, "Tags": tag_list(tags)} if tags else item

    def describe_images(self, ctx: Any, params: dict[str, Any]) -> Result:
        wanted = params.get("ImageIds") or []
        images = []
        if wanted:
            for image_id in dict.fromkeys(wanted):
                if not catalog.well_formed_ami(image_id):
                    raise errors.ami_malformed(image_id)
                doc = self.images.by_id.get(image_id)
                if doc is None:
                    # Any well-formed id runs the built-in image, so it describes as that.
                    images.append(catalog.image(image_id, ctx.region))
                elif self.images.get(ctx, image_id) is None:
                    raise errors.ami_not_found(image_id)  # another account's private image
                elif doc["State"] != "deregistered":
                    images.append(_shape(doc))
        else:
            images.append(catalog.image(catalog.BUILTIN_IMAGE_ID, ctx.region))
            images.extend(_shape(d) for d in self.images.mine(ctx))
        owners = set(params.get("Owners") or [])
        if owners and "all" not in owners:
            images = [
                i
                for i in images
                if i["OwnerId"] in owners
                or ("self" in owners and i["OwnerId"] == ctx.account_id)
                or (i.get("ImageOwnerAlias") and i["ImageOwnerAlias"] in owners)
            ]
        images = [self._image_with_tags(i) for i in images]
        images = filters.apply(
            images, params.get("Filters"), _IMAGE_FILTERS, lambda i: self.tags.of(i["ImageId"])
        )
        return {"Images": images}

    def create_image(self, ctx: Any, params: dict[str, Any]) -> Result:
        (inst,) = self._find(ctx, [params["InstanceId"]])  # type: ignore[attr-defined]
        name = params.get("Name") or ""
        if not _NAME.match(name):
            raise ServiceError(
                "InvalidAMIName.Malformed",
                "AMI names must be between 3 and 128 characters long, and may contain letters, "
                "numbers, '(', ')', '.', '-', '/' and '_'",
            )
        for other in self.images.mine(ctx):
            if other["Name"] == name:
                raise ServiceError(
                    "InvalidAMIName.Duplicate",
                    f"AMI name {name} is already in use by AMI {other['ImageId']}",
                )
        if inst.state not in ("running", "stopped"):
            raise errors.incorrect_state(inst.id, f"is not in a valid state ({inst.state}).")
        doc: Result = {
            "ImageId": "ami-" + token_hex(9)[:17],
            "Name": name,
            "Description": params.get("Description") or "",
            "State": "pending",
            "OwnerId": ctx.account_id,
            "Public": False,
            "CreationDate": datetime.fromtimestamp(clock.time(), UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.000Z"
            ),
            "SourceInstanceId": inst.id,
            "_region": ctx.region,
        }
        self.images.by_id[doc["ImageId"]] = doc
        self.images.save(doc)
        for spec in params.get("TagSpecifications") or []:
            if spec.get("ResourceType") == "image" and spec.get("Tags"):
                self.tags.add(doc["ImageId"], spec["Tags"])
        reboot = not params.get("NoReboot") and inst.state == "running"
        self.engine._spawn_job(self._capture(inst, doc, reboot))
        return {"ImageId": doc["ImageId"]}

    async def _capture(self, inst: Instance, doc: Result, reboot: bool) -> None:
        engine = self.engine
        if reboot:
            await engine._halt(inst)
        source = engine.directory(inst) / "home"
        target = engine.image_directory(doc["ImageId"]) / "home"
        try:
            shutil.rmtree(target.parent, ignore_errors=True)
            target.parent.mkdir(parents=True)
            if source.is_dir():
                await asyncio.to_thread(shutil.copytree, source, target, symlinks=True)
            else:
                target.mkdir()
            if doc["State"] == "pending":
                doc["State"] = "available"
        except OSError as exc:
            doc["State"] = "failed"
            doc["StateReason"] = {"Code": "Server.InternalError", "Message": str(exc)}
        if doc["State"] == "deregistered":  # deregistered during the copy
            shutil.rmtree(target.parent, ignore_errors=True)
        else:
            self.images.save(doc)
        if reboot and not engine.closing and inst.state == "running":
            engine.boot(inst)

    def deregister_image(self, ctx: Any, params: dict[str, Any]) -> Result:
        image_id = params["ImageId"]
        if not catalog.well_formed_ami(image_id):
            raise errors.ami_malformed(image_id)
        doc = self.images.get(ctx, image_id)
        if doc is None or doc["State"] == "deregistered":
            raise errors.ami_not_found(image_id)
        doc["State"] = "deregistered"
        self.images.save(doc)  # kept: launching a deregistered image fails as on AWS
        self.tags.drop(image_id)
        shutil.rmtree(self.engine.image_directory(image_id), ignore_errors=True)
        return {"Return": True}
