"""The runtime client cloudlet runs for ``python3.x`` functions (see ``__main__``)."""
