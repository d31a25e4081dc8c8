"""cloudlet: a whole cloud on one machine.

AWS-compatible services that do what the real ones do, served on one port
and driven by the SDKs people already use.
"""

__version__ = "0.1.0"
