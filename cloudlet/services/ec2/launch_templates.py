"""EC2 launch templates: named, versioned RunInstances parameters.

A template keeps every version's ``LaunchTemplateData`` as given (the request
and response shapes of the data are parallel, so it is echoed back as AWS
does). ``SourceVersion`` makes a new version from an old one: top-level keys of
the new data replace the source's, the rest is inherited. RunInstances with a
``LaunchTemplate`` uses the resolved version's data as the base and its own
explicit parameters on top (``template_params``); AutoScaling launches through
the same path with ``env.call("ec2", "RunInstances", ...)``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from cloudlet.core.clock import clock
from cloudlet.core.errors import ServiceError
from cloudlet.core.ids import token_hex
from cloudlet.services.ec2 import filters
from cloudlet.services.ec2.store import Store
from cloudlet.services.ec2.tags import Tags, tag_list

Result = dict[str, Any]
Template = dict[str, Any]
_NAME = re.compile(r"^[a-zA-Z0-9().\-/_]{3,128}$")
_ID = re.compile(r"^lt-[0-9a-f]{17}$")
_TEMPLATE_FILTERS: dict[str, Any] = {
    "launch-template-name": lambda t: t["LaunchTemplateName"],
    "create-time": lambda t: _iso(t["CreateTime"]),
}
_VERSION_FILTERS: dict[str, Any] = {
    "image-id": lambda v: v["LaunchTemplateData"].get("ImageId"),
    "instance-type": lambda v: v["LaunchTemplateData"].get("InstanceType"),
    "is-default-version": lambda v: str(v["DefaultVersion"]).lower(),
    "create-time": lambda v: _iso(v["CreateTime"]),
    "iam-instance-profile": lambda v: list(
        (v["LaunchTemplateData"].get("IamInstanceProfile") or {}).values()
    ),
    "ebs-optimized": lambda v: str(v["LaunchTemplateData"].get("EbsOptimized", False)).lower(),
}
TEMPLATE_PUBLIC_IP = "_AssociatePublicIpAddress"
"""The template interface's ``AssociatePublicIpAddress``, handed to RunInstances' placement
(``instance_network``) beside the subnet and groups the template's interface gives."""
# RunInstances parameters a template's data supplies (same names on both sides).
_COPIED = (
    "ImageId",
    "InstanceType",
    "KeyName",
    "SecurityGroupIds",
    "SecurityGroups",
    "UserData",
    "IamInstanceProfile",
    "InstanceInitiatedShutdownBehavior",
    "MetadataOptions",
    "Placement",
    "TagSpecifications",
    "Monitoring",
    "EbsOptimized",
    "DisableApiTermination",
    "BlockDeviceMappings",
)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def name_not_found() -> ServiceError:
    return ServiceError(
        "InvalidLaunchTemplateName.NotFoundException",
        "At least one of the launch templates specified in the request does not exist.",
    )


def id_not_found(template_id: str) -> ServiceError:
    return ServiceError(
        "InvalidLaunchTemplateId.NotFound",
        f"The specified launch template, with template ID {template_id}, does not exist.",
    )


def version_not_found(version: Any, template_id: str) -> ServiceError:
    return ServiceError(
        "InvalidLaunchTemplateId.VersionNotFound",
        f"Could not find launch template version {version} for launch template "
        f"with ID {template_id}",
    )


def _malformed_id(template_id: str) -> ServiceError:
    return ServiceError(
        "InvalidLaunchTemplateId.Malformed",
        f"The specified ID for the launch template {template_id} is malformed.",
    )


def _check_name(name: str) -> None:
    if not _NAME.match(name or ""):
        raise ServiceError(
            "InvalidLaunchTemplateName.MalformedException",
            "A launch template name must be between 3 and 128 characters, and may contain "
            "letters, numbers, and the following characters: - ( ) . / _.'",
        )


class LaunchTemplates:
    """Every account's templates, in memory and written through to the store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.by_id: dict[str, Template] = {t["LaunchTemplateId"]: t for t in store.load("lt")}

    def save(self, template: Template) -> None:
        self.store.put("lt", template["LaunchTemplateId"], template)

    def visible(self, account: str, region: str) -> list[Template]:
        return [
            t for t in self.by_id.values() if t["_account"] == account and t["_region"] == region
        ]

    def find(self, ctx: Any, template_id: str | None, name: str | None) -> Template:
        if template_id and name:
            raise ServiceError(
                "InvalidParameterCombination",
                "The parameters LaunchTemplateId and LaunchTemplateName cannot be combined.",
            )
        if not template_id and not name:
            raise ServiceError(
                "MissingParameter",
                "The request must include either the launch template ID or the launch "
                "template name.",
            )
        if template_id:
            if not _ID.match(template_id):
                raise _malformed_id(template_id)
            found = self.by_id.get(template_id)
            if found is None or found["_account"] != ctx.account_id:
                raise id_not_found(template_id)
            if found["_region"] != ctx.region:
                raise id_not_found(template_id)
            return found
        _check_name(name or "")
        for template in self.visible(ctx.account_id, ctx.region):
            if template["LaunchTemplateName"] == name:
                return template
        raise name_not_found()

    @staticmethod
    def version(template: Template, ref: Any) -> Result:
        """The version ``ref`` names: a number, ``$Latest`` or ``$Default`` (None: default)."""
        ref = "$Default" if ref is None or ref == "" else str(ref)
        if ref == "$Latest":
            number = template["LatestVersionNumber"]
        elif ref == "$Default":
            number = template["DefaultVersionNumber"]
        else:
            try:
                number = int(ref)
            except ValueError:
                raise version_not_found(ref, template["LaunchTemplateId"]) from None
        for version in template["versions"]:
            if version["VersionNumber"] == number:
                return version
        raise version_not_found(ref, template["LaunchTemplateId"])


def template_params(
    templates: LaunchTemplates, ctx: Any, params: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """RunInstances parameters with the ``LaunchTemplate``'s data as the base, and the
    ``aws:ec2launchtemplate:*`` tags its instances get."""
    spec = params.get("LaunchTemplate") or {}
    template = templates.find(ctx, spec.get("LaunchTemplateId"), spec.get("LaunchTemplateName"))
    version = templates.version(template, spec.get("Version"))
    data = version["LaunchTemplateData"]
    merged = {k: data[k] for k in _COPIED if k in data}
    interfaces = data.get("NetworkInterfaces") or []
    if interfaces:
        first = interfaces[0]
        if first.get("SubnetId"):
            merged["SubnetId"] = first["SubnetId"]
        if first.get("Groups"):
            merged["SecurityGroupIds"] = list(first["Groups"])
        if first.get("AssociatePublicIpAddress") is not None:
            merged[TEMPLATE_PUBLIC_IP] = bool(first["AssociatePublicIpAddress"])
    if params.get("SubnetId") and not params.get("Placement"):
        # An explicit subnet places the instance (AutoScaling's zone balancing relies on it).
        merged.pop("Placement", None)
    if params.get("Placement") and not params.get("SubnetId"):
        merged.pop("SubnetId", None)
    for key, value in params.items():
        if key == "LaunchTemplate" or value is None:
            continue
        if key in ("SecurityGroupIds", "SecurityGroups") and value:
            merged.pop("SecurityGroupIds", None)
            merged.pop("SecurityGroups", None)
        if key == "TagSpecifications" and merged.get("TagSpecifications"):
            # Tags given to RunInstances replace the template's for that resource type.
            given = {s.get("ResourceType") for s in value}
            kept = [s for s in merged["TagSpecifications"] if s.get("ResourceType") not in given]
            value = kept + list(value)
        merged[key] = value
    system = {
        "aws:ec2launchtemplate:id": template["LaunchTemplateId"],
        "aws:ec2launchtemplate:version": str(version["VersionNumber"]),
    }
    return merged, system


class LaunchTemplateOps:
    """Launch-template operations, mixed into ``Ec2Service``."""

    templates: LaunchTemplates
    tags: Tags

    def _template_shape(self, template: Template) -> Result:
        out = {
            k: v
            for k, v in template.items()
            if not k.startswith("_") and k not in ("versions", "CreateTime")
        }
        out["CreateTime"] = _when(template["CreateTime"])
        tags = self.tags.of(template["LaunchTemplateId"])
        if tags:
            out["Tags"] = tag_list(tags)
        return out

    @staticmethod
    def _version_shape(template: Template, version: Result) -> Result:
        return {
            "LaunchTemplateId": template["LaunchTemplateId"],
            "LaunchTemplateName": template["LaunchTemplateName"],
            "VersionNumber": version["VersionNumber"],
            **(
                {"VersionDescription": version["VersionDescription"]}
                if version.get("VersionDescription")
                else {}
            ),
            "CreateTime": _when(version["CreateTime"]),
            "CreatedBy": template["CreatedBy"],
            "DefaultVersion": version["VersionNumber"] == template["DefaultVersionNumber"],
            "LaunchTemplateData": version["LaunchTemplateData"],
        }

    def create_launch_template(self, ctx: Any, params: dict[str, Any]) -> Result:
        name = params.get("LaunchTemplateName") or ""
        _check_name(name)
        if any(
            t["LaunchTemplateName"] == name
            for t in self.templates.visible(ctx.account_id, ctx.region)
        ):
            raise ServiceError(
                "InvalidLaunchTemplateName.AlreadyExistsException",
                f"Launch template name already in use: {name}",
            )
        data = params.get("LaunchTemplateData")
        if data is None:
            raise ServiceError(
                "MissingParameter", "The request must contain the parameter LaunchTemplateData"
            )
        now = clock.time()
        template: Template = {
            "LaunchTemplateId": "lt-" + token_hex(9)[:17],
            "LaunchTemplateName": name,
            "CreateTime": now,
            "CreatedBy": f"arn:aws:iam::{ctx.account_id}:root",
            "DefaultVersionNumber": 1,
            "LatestVersionNumber": 1,
            "_account": ctx.account_id,
            "_region": ctx.region,
            "versions": [
                {
                    "VersionNumber": 1,
                    "VersionDescription": params.get("VersionDescription") or "",
                    "CreateTime": now,
                    "LaunchTemplateData": data,
                }
            ],
        }
        self.templates.by_id[template["LaunchTemplateId"]] = template
        self.templates.save(template)
        for spec in params.get("TagSpecifications") or []:
            if spec.get("ResourceType") == "launch-template" and spec.get("Tags"):
                self.tags.add(template["LaunchTemplateId"], spec["Tags"])
        return {"LaunchTemplate": self._template_shape(template)}

    def create_launch_template_version(self, ctx: Any, params: dict[str, Any]) -> Result:
        template = self.templates.find(
            ctx, params.get("LaunchTemplateId"), params.get("LaunchTemplateName")
        )
        data = dict(params.get("LaunchTemplateData") or {})
        source = params.get("SourceVersion")
        if source is not None:
            base = self.templates.version(template, source)["LaunchTemplateData"]
            data = {**base, **data}
        # Numbers are never reused, even after the latest version was deleted.
        number = max(template.get("_next", 0), template["LatestVersionNumber"] + 1)
        template["_next"] = number + 1
        version = {
            "VersionNumber": number,
            "VersionDescription": params.get("VersionDescription") or "",
            "CreateTime": clock.time(),
            "LaunchTemplateData": data,
        }
        template["versions"].append(version)
        template["LatestVersionNumber"] = number
        self.templates.save(template)
        return {"LaunchTemplateVersion": self._version_shape(template, version)}

    def describe_launch_templates(self, ctx: Any, params: dict[str, Any]) -> Result:
        templates = self.templates.visible(ctx.account_id, ctx.region)
        ids = params.get("LaunchTemplateIds") or []
        names = params.get("LaunchTemplateNames") or []
        if ids:
            templates = [self.templates.find(ctx, i, None) for i in dict.fromkeys(ids)]
        if names:
            for name in names:
                _check_name(name)
            by_name = {t["LaunchTemplateName"]: t for t in templates}
            if any(n not in by_name for n in names):
                raise name_not_found()
            templates = [by_name[n] for n in dict.fromkeys(names)]
        templates = filters.apply(
            templates,
            params.get("Filters"),
            _TEMPLATE_FILTERS,
            lambda t: self.tags.of(t["LaunchTemplateId"]),
        )
        page, token = filters.page(
            templates, params.get("MaxResults"), params.get("NextToken"), 1, 200
        )
        out: Result = {"LaunchTemplates": [self._template_shape(t) for t in page]}
        if token:
            out["NextToken"] = token
        return out

    def describe_launch_template_versions(self, ctx: Any, params: dict[str, Any]) -> Result:
        template_id, name = params.get("LaunchTemplateId"), params.get("LaunchTemplateName")
        if template_id or name:
            templates = [self.templates.find(ctx, template_id, name)]
        else:
            templates = self.templates.visible(ctx.account_id, ctx.region)
        wanted = params.get("Versions") or []
        low, high = params.get("MinVersion"), params.get("MaxVersion")
        items = []
        for template in templates:
            if wanted:
                chosen = [self.templates.version(template, ref) for ref in wanted]
                chosen = list({v["VersionNumber"]: v for v in chosen}.values())
            else:
                chosen = list(template["versions"])
            if low is not None:
                chosen = [v for v in chosen if v["VersionNumber"] >= int(low)]
            if high is not None:
                chosen = [v for v in chosen if v["VersionNumber"] <= int(high)]
            if not wanted:
                chosen.sort(key=lambda v: -v["VersionNumber"])  # newest first, as AWS
            items.extend(self._version_shape(template, v) for v in chosen)
        items = filters.apply(items, params.get("Filters"), _VERSION_FILTERS)
        page, token = filters.page(items, params.get("MaxResults"), params.get("NextToken"), 1, 200)
        out: Result = {"LaunchTemplateVersions": page}
        if token:
            out["NextToken"] = token
        return out

    def modify_launch_template(self, ctx: Any, params: dict[str, Any]) -> Result:
        template = self.templates.find(
            ctx, params.get("LaunchTemplateId"), params.get("LaunchTemplateName")
        )
        default = params.get("DefaultVersion")
        if default is not None:
            if str(default) in ("$Latest", "$Default"):
                raise ServiceError(
                    "InvalidParameterValue",
                    f"Value ({default}) for parameter defaultVersion is invalid.",
                )
            version = self.templates.version(template, default)
            template["DefaultVersionNumber"] = version["VersionNumber"]
            self.templates.save(template)
        return {"LaunchTemplate": self._template_shape(template)}

    def delete_launch_template(self, ctx: Any, params: dict[str, Any]) -> Result:
        template = self.templates.find(
            ctx, params.get("LaunchTemplateId"), params.get("LaunchTemplateName")
        )
        del self.templates.by_id[template["LaunchTemplateId"]]
        self.templates.store.delete("lt", template["LaunchTemplateId"])
        shape = self._template_shape(template)
        self.tags.drop(template["LaunchTemplateId"])
        return {"LaunchTemplate": shape}

    def delete_launch_template_versions(self, ctx: Any, params: dict[str, Any]) -> Result:
        template = self.templates.find(
            ctx, params.get("LaunchTemplateId"), params.get("LaunchTemplateName")
        )
        done, failed = [], []
        ident = {
            "LaunchTemplateId": template["LaunchTemplateId"],
            "LaunchTemplateName": template["LaunchTemplateName"],
        }
        for ref in params.get("Versions") or []:
            try:
                number = int(ref)
            except ValueError:
                number = None
            version = next((v for v in template["versions"] if v["VersionNumber"] == number), None)
            if version is None:
                error = {
                    "Code": "launchTemplateVersionDoesNotExist",
                    "Message": "The specified launch template version does not exist.",
                }
                failed.append({**ident, "VersionNumber": number or 0, "ResponseError": error})
            elif number == template["DefaultVersionNumber"]:
                error = {
                    "Code": "unexpectedError",
                    "Message": "Cannot delete the default version of a launch template. "
                    "Use DeleteLaunchTemplate to delete the whole template.",
                }
                failed.append({**ident, "VersionNumber": number, "ResponseError": error})
            else:
                template["versions"].remove(version)
                done.append({**ident, "VersionNumber": number})
                template["_next"] = max(
                    template.get("_next", 0), template["LatestVersionNumber"] + 1
                )
                template["LatestVersionNumber"] = max(
                    v["VersionNumber"] for v in template["versions"]
                )
        self.templates.save(template)
        return {
            "SuccessfullyDeletedLaunchTemplateVersions": done,
            "UnsuccessfullyDeletedLaunchTemplateVersions": failed,
        }
