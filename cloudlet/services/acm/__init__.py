"""AWS Certificate Manager."""
