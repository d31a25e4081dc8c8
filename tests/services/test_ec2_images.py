"""CreateImage captures an instance's disk (its home); instances of the image start from it.
Also: each instance's processes are limited to its type's memory."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from cloudlet.testing import CloudletServer
from tests.services.ec2_helpers import FAST, IMAGE, console, eventually, launch, wait
from tests.services.names import unique


def _code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def _image(ec2, image_id: str) -> dict:
    return ec2.describe_images(ImageIds=[image_id])["Images"][0]


def test_create_image_captures_home_and_new_instances_start_from_it(aws_client):
    ec2 = aws_client("ec2")
    ids: list[str] = []
    try:
        (source,) = launch(ec2, "#!/bin/bash\necho baked > app.txt\necho source-done\n")
        ids.append(source)
        wait(ec2, "instance_running", [source])
        eventually(lambda: "source-done" in console(ec2, source))
        name = unique("image")
        image_id = ec2.create_image(
            InstanceId=source,
            Name=name,
            Description="baked",
            TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "k", "Value": "v"}]}],
        )["ImageId"]
        assert image_id.startswith("ami-")
        ec2.get_waiter("image_available").wait(ImageIds=[image_id], WaiterConfig=FAST)
        image = _image(ec2, image_id)
        assert image["Name"] == name and image["State"] == "available"
        assert image["Description"] == "baked" and image["Public"] is False
        assert image["Tags"] == [{"Key": "k", "Value": "v"}]
        mine = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [name]}])
        assert [i["ImageId"] for i in mine["Images"]] == [image_id]
        # Without NoReboot the source was rebooted around the capture; user data not re-run.
        eventually(lambda: console(ec2, source).count("booting") == 2)
        assert console(ec2, source).count("source-done") == 1

        with pytest.raises(ClientError) as exc:
            ec2.create_image(InstanceId=source, Name=name, NoReboot=True)
        assert _code(exc) == "InvalidAMIName.Duplicate"

        ec2.create_tags(Resources=[image_id], Tags=[{"Key": "extra", "Value": "1"}])
        assert {"Key": "extra", "Value": "1"} in _image(ec2, image_id)["Tags"]

        res = ec2.run_instances(
            ImageId=image_id,
            MinCount=1,
            MaxCount=1,
            InstanceType="t2.micro",
            UserData='#!/bin/bash\necho "found: $(cat app.txt)"\n',
        )
        clone = res["Instances"][0]["InstanceId"]
        ids.append(clone)
        wait(ec2, "instance_running", [clone])
        assert eventually(lambda: "found: baked" in console(ec2, clone))

        assert ec2.deregister_image(ImageId=image_id)["Return"] is True
        assert (
            ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [name]}])[
                "Images"
            ]
            == []
        )
        with pytest.raises(ClientError) as exc:
            ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)
        assert _code(exc) == "InvalidAMIID.NotFound"
        with pytest.raises(ClientError) as exc:
            ec2.deregister_image(ImageId=image_id)
        assert _code(exc) == "InvalidAMIID.NotFound"
    finally:
        if ids:
            ec2.terminate_instances(InstanceIds=ids)
            wait(ec2, "instance_terminated", ids)


def test_builtin_image_still_listed_and_unknown_ids_run_it(aws_client):
    ec2 = aws_client("ec2")
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    assert [i["ImageId"] for i in images] == ["ami-0c10d1e7000000001"]
    assert _image(ec2, IMAGE)["Name"] == "cloudlet-host-linux"


def test_memory_is_limited_to_the_instance_type(aws_client):
    ec2 = aws_client("ec2")
    nano = ec2.describe_instance_types(InstanceTypes=["t2.nano"])["InstanceTypes"][0]
    assert nano["MemoryInfo"]["SizeInMiB"] == 512
    script = """#!/bin/bash
python3 -c "b = bytearray(64 * 1024**2); print('small allocation ok')"
python3 -c "b = bytearray(1024**3); print('big allocation ok')"
echo memory-test-done
"""
    res = ec2.run_instances(
        ImageId=IMAGE, MinCount=1, MaxCount=1, InstanceType="t2.nano", UserData=script
    )
    iid = res["Instances"][0]["InstanceId"]
    try:
        out = eventually(lambda: "memory-test-done" in console(ec2, iid) and console(ec2, iid))
        assert "small allocation ok" in out
        assert "MemoryError" in out and "big allocation ok" not in out
    finally:
        ec2.terminate_instances(InstanceIds=[iid])
        wait(ec2, "instance_terminated", [iid])


def test_images_and_templates_survive_a_restart(tmp_path):
    data = tmp_path / "data"
    server = CloudletServer.start(data_dir=data)
    try:
        ec2 = server.client("ec2")
        (source,) = launch(ec2, "#!/bin/bash\necho kept > disk.txt\necho written\n")
        eventually(lambda: "written" in console(ec2, source))
        image_id = ec2.create_image(InstanceId=source, Name=unique("image"), NoReboot=True)[
            "ImageId"
        ]
        ec2.get_waiter("image_available").wait(ImageIds=[image_id], WaiterConfig=FAST)
        assert console(ec2, source).count("booting") == 1  # NoReboot: not rebooted
        assert (data / "ec2" / "images" / image_id / "home" / "disk.txt").read_text() == "kept\n"
        name = unique("lt")
        ec2.create_launch_template(
            LaunchTemplateName=name,
            LaunchTemplateData={"ImageId": image_id, "InstanceType": "t2.micro"},
        )
        ec2.terminate_instances(InstanceIds=[source])
        wait(ec2, "instance_terminated", [source])
    finally:
        server.stop()

    server = CloudletServer.start(data_dir=data)
    try:
        ec2 = server.client("ec2")
        assert _image(ec2, image_id)["State"] == "available"
        res = ec2.run_instances(
            MinCount=1,
            MaxCount=1,
            LaunchTemplate={"LaunchTemplateName": name},
            UserData='#!/bin/bash\necho "restored: $(cat disk.txt)"\n',
        )
        clone = res["Instances"][0]["InstanceId"]
        assert res["Instances"][0]["ImageId"] == image_id
        assert eventually(lambda: "restored: kept" in console(ec2, clone))
        ec2.terminate_instances(InstanceIds=[clone])
        wait(ec2, "instance_terminated", [clone])
    finally:
        server.stop()
