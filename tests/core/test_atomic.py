"""Atomic text writes never replace what is not a regular file."""

import os
import stat

import pytest

from rhcc_bayes.core.atomic import write_text_atomic
from rhcc_bayes.core.errors import UserError


def test_replaces_a_regular_file_whole(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary left behind


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(UserError, match="is a directory"):
        write_text_atomic(tmp_path, "x")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_a_full_device_is_an_error_and_stays_a_device():
    with pytest.raises(UserError, match="cannot write /dev/full"):
        write_text_atomic("/dev/full", "x" * 100000)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_a_fifo_is_written_through_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_text_atomic(fifo, "hello")
        assert os.read(reader, 100) == b"hello"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
