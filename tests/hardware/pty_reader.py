"""A pseudo-terminal pair standing in for a serial card reader.

The code under test opens the slave's name (/dev/pts/N) with the real pyserial; the test
writes what the reader would send to the master. Closing the pair is unplugging the reader.
"""

from __future__ import annotations

import os
import tty


class Pty:
    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        # Raw from the start: bytes written before pyserial configures the port are not
        # echoed or interpreted by the line discipline.
        tty.setraw(self.slave)
        self.name = os.ttyname(self.slave)
        self.closed = False

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.master)
            os.close(self.slave)


def rdm6300_frame(tag: bytes) -> bytes:
    """Return the RDM6300 frame of a 5-byte tag: STX, 10 hex digits, checksum, ETX."""
    checksum = 0
    for value in tag:
        checksum ^= value
    return b"\x02" + (tag.hex().upper() + f"{checksum:02X}").encode() + b"\x03"
