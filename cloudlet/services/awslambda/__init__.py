"""AWS Lambda without Docker: functions run in warm worker processes on the host's Python.

The package is ``awslambda`` because botocore's service name ``lambda`` is a
Python keyword; the registry maps ``lambda`` here.
"""
