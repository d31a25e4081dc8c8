"""Classic Elastic Load Balancing on the same proxy engine as elbv2."""
