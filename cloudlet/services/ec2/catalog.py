"""The fixed parts of EC2: regions, zones, the built-in image, instance types.

Instance types carry AWS's documented vCPU and memory figures so programs that
size themselves from DescribeInstanceTypes see real numbers.
"""

from __future__ import annotations

import platform
import re
from typing import Any

try:
    import resource
except ImportError:  # pragma: no cover - not POSIX
    resource = None  # type: ignore[assignment]

REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
    "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2",
)  # fmt: skip
ZONE_LETTERS = ("a", "b", "c")

BUILTIN_IMAGE_ID = "ami-0c10d1e7000000001"
BUILTIN_IMAGE_NAME = "cloudlet-host-linux"
_AMI = re.compile(r"^ami-[0-9a-f]{8,17}$")

ARCH = "arm64" if platform.machine().lower() in ("aarch64", "arm64") else "x86_64"

# type: (vCPUs, memory MiB, network performance), from AWS's instance type pages.
INSTANCE_TYPES: dict[str, tuple[int, int, str]] = {
    "t1.micro": (1, 627, "Very Low"),
    "m1.small": (1, 1740, "Low"),
    "t2.nano": (1, 512, "Low to Moderate"),
    "t2.micro": (1, 1024, "Low to Moderate"),
    "t2.small": (1, 2048, "Low to Moderate"),
    "t2.medium": (2, 4096, "Low to Moderate"),
    "t2.large": (2, 8192, "Low to Moderate"),
    "t2.xlarge": (4, 16384, "Moderate"),
    "t2.2xlarge": (8, 32768, "Moderate"),
    "t3.nano": (2, 512, "Up to 5 Gigabit"),
    "t3.micro": (2, 1024, "Up to 5 Gigabit"),
    "t3.small": (2, 2048, "Up to 5 Gigabit"),
    "t3.medium": (2, 4096, "Up to 5 Gigabit"),
    "t3.large": (2, 8192, "Up to 5 Gigabit"),
    "t3.xlarge": (4, 16384, "Up to 5 Gigabit"),
    "t3.2xlarge": (8, 32768, "Up to 5 Gigabit"),
    "m4.large": (2, 8192, "Moderate"),
    "m5.large": (2, 8192, "Up to 10 Gigabit"),
    "m5.xlarge": (4, 16384, "Up to 10 Gigabit"),
    "m5.2xlarge": (8, 32768, "Up to 10 Gigabit"),
    "m5.4xlarge": (16, 65536, "Up to 10 Gigabit"),
    "c5.large": (2, 4096, "Up to 10 Gigabit"),
    "c5.xlarge": (4, 8192, "Up to 10 Gigabit"),
    "c5.2xlarge": (8, 16384, "Up to 10 Gigabit"),
    "r5.large": (2, 16384, "Up to 10 Gigabit"),
    "r5.xlarge": (4, 32768, "Up to 10 Gigabit"),
}
FREE_TIER = {"t2.micro", "t3.micro"}


def memory_limit(instance_type: str) -> dict[int, int]:
    """The process limits of an instance of ``instance_type``: ``RLIMIT_DATA`` (heap and
    private mappings) = the type's memory, so no process of it can use more memory than
    the instance has. Empty where there are no rlimits."""
    if resource is None or instance_type not in INSTANCE_TYPES:
        return {}
    return {resource.RLIMIT_DATA: INSTANCE_TYPES[instance_type][1] * 1024 * 1024}


def well_formed_ami(image_id: str) -> bool:
    return bool(_AMI.match(image_id))


def zone_names(region: str) -> list[str]:
    return [region + letter for letter in ZONE_LETTERS]


def zone_id(region: str, index: int) -> str:
    parts = region.split("-")
    short = parts[0] + "".join(p[0] for p in parts[1:-1]) + parts[-1]
    return f"{short}-az{index + 1}"


def image(image_id: str, region: str) -> dict[str, Any]:
    """The built-in image (the host's own environment), under ``image_id``."""
    return {
        "ImageId": image_id,
        "ImageLocation": f"amazon/{BUILTIN_IMAGE_NAME}",
        "State": "available",
        "OwnerId": "137112412989",
        "ImageOwnerAlias": "amazon",
        "CreationDate": "2026-01-01T00:00:00.000Z",
        "Public": True,
        "Architecture": ARCH,
        "ImageType": "machine",
        "Name": BUILTIN_IMAGE_NAME,
        "Description": "The machine cloudlet runs on: user data runs under its bash",
        "RootDeviceType": "ebs",
        "RootDeviceName": "/dev/xvda",
        "VirtualizationType": "hvm",
        "Hypervisor": "xen",
        "EnaSupport": True,
        "PlatformDetails": "Linux/UNIX",
        "UsageOperation": "RunInstances",
        "BlockDeviceMappings": [],
    }


def instance_type_info(name: str) -> dict[str, Any]:
    vcpus, memory, network = INSTANCE_TYPES[name]
    threads = 2 if vcpus > 1 and not name.startswith(("t2.", "t1.", "m1.")) else 1
    return {
        "InstanceType": name,
        "CurrentGeneration": not name.startswith(("t1.", "m1.", "m4.")),
        "FreeTierEligible": name in FREE_TIER,
        "SupportedUsageClasses": ["on-demand", "spot"],
        "SupportedRootDeviceTypes": ["ebs"],
        "SupportedVirtualizationTypes": ["hvm"],
        "BareMetal": False,
        "Hypervisor": "nitro" if name.startswith(("t3.", "m5.", "c5.", "r5.")) else "xen",
        "ProcessorInfo": {"SupportedArchitectures": [ARCH]},
        "VCpuInfo": {
            "DefaultVCpus": vcpus,
            "DefaultCores": max(1, vcpus // threads),
            "DefaultThreadsPerCore": threads,
        },
        "MemoryInfo": {"SizeInMiB": memory},
        "InstanceStorageSupported": False,
        "EbsInfo": {"EbsOptimizedSupport": "default", "EncryptionSupport": "supported"},
        "NetworkInfo": {
            "NetworkPerformance": network,
            "MaximumNetworkInterfaces": 3,
            "Ipv4AddressesPerInterface": 6,
            "Ipv6Supported": True,
        },
        "PlacementGroupInfo": {"SupportedStrategies": ["partition", "spread"]},
        "BurstablePerformanceSupported": name.startswith(("t2.", "t3.")),
        "AutoRecoverySupported": True,
    }
