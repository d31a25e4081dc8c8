"""EC2: instances that run as local process groups, and the resources around them."""
