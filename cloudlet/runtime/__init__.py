"""Local resources that services hand out: supervised processes (and, later, addresses)."""
