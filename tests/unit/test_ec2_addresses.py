"""Address blocks are claimed machine-wide, whatever each server's TMPDIR is."""

from __future__ import annotations

import tempfile

from cloudlet.services.ec2.addresses import AddressBlock


def test_servers_with_private_temp_dirs_never_share_a_block(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    first_tmp, second_tmp = tmp_path / "a", tmp_path / "b"
    first_tmp.mkdir()
    second_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(first_tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    first = AddressBlock.claim()
    try:
        monkeypatch.setenv("TMPDIR", str(second_tmp))
        monkeypatch.setattr(tempfile, "tempdir", None)
        second = AddressBlock.claim(preferred=first.block)
        try:
            assert second.block != first.block
        finally:
            second.release()
    finally:
        first.release()
