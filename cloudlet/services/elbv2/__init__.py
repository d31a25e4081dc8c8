"""Elastic Load Balancing v2 (application load balancers) that carry real traffic."""
