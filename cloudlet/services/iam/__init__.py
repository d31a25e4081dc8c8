"""IAM: users, groups, roles, policies, access keys and instance profiles."""
