"""AutoScaling: groups that keep EC2 instances at their desired capacity."""
