"""AWS Private CA (``acm-pca``): certificate authorities with real keys that sign."""
