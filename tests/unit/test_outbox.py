"""The outbox keeps batches in order across memory and its spill file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from runwatch.records import Batch, Series
from runwatch.sdk.outbox import Outbox, read_frames, replay_orphans, write_frame


def batch(seq, points=100):
    return Batch(project="p", run_id="r", seq=seq, sent_at=0.0,
                 series=[Series("x", list(range(points)), [0.0] * points, [1.0] * points)])


def drain(box):
    out = []
    while (b := box.peek(timeout=0)) is not None:
        out.append(b.seq)
        box.ack()
    return out


def test_spills_past_the_memory_limit_and_keeps_order(tmp_path):
    box = Outbox(tmp_path, "r", memory_limit=10_000)  # about two batches of 100 points
    for seq in range(10):
        box.put(batch(seq))
    assert box.spilled_total > 0
    spill = list(tmp_path.glob("*.spill"))
    assert len(spill) == 1
    first = drain(box)
    assert first == list(range(10))
    # Once the disk is drained the file starts over; new batches go to memory again.
    assert spill[0].stat().st_size == 0
    box.put(batch(10))
    assert drain(box) == [10]
    box.close()
    assert not list(tmp_path.glob("*.spill"))


def test_interleaved_put_and_ack_keep_order(tmp_path):
    box = Outbox(tmp_path, "r", memory_limit=6_000)
    seen, seq = [], 0
    for _round in range(20):
        for _ in range(3):
            box.put(batch(seq))
            seq += 1
        b = box.peek(timeout=0)
        seen.append(b.seq)
        box.ack()
    seen += drain(box)
    assert seen == list(range(seq))


def test_persist_writes_everything_pending_in_order(tmp_path):
    box = Outbox(tmp_path, "r", memory_limit=6_000)
    for seq in range(6):
        box.put(batch(seq))
    assert box.peek(timeout=0).seq == 0
    box.ack()
    path = box.persist()
    with open(path, "rb") as fh:
        assert [b.seq for b in read_frames(fh)] == [1, 2, 3, 4, 5]


def test_replay_skips_files_whose_writer_is_alive_and_a_torn_tail(tmp_path):
    orphan = tmp_path / "dead-1.spill"
    with open(orphan, "wb") as fh:
        for seq in range(3):
            write_frame(fh, batch(seq))
        fh.write(b"\x10\x00\x00\x00garbage")  # a frame cut short by a crash
    # A live writer: a child process holding the lock on its own file.
    live = tmp_path / "live-2.spill"
    code = textwrap.dedent(f"""
        import fcntl, sys, time
        fh = open({str(live)!r}, "wb"); fcntl.flock(fh, fcntl.LOCK_EX)
        print("locked", flush=True); time.sleep(30)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        applied = []
        assert replay_orphans(tmp_path, lambda b: applied.append(b.seq)) == 3
        assert applied == [0, 1, 2]
        assert not orphan.exists() and live.exists()
    finally:
        child.kill()
        child.wait()


def test_a_failed_replay_keeps_the_file(tmp_path):
    orphan = tmp_path / "dead-1.spill"
    with open(orphan, "wb") as fh:
        write_frame(fh, batch(0))

    def boom(_b):
        raise OSError("store away")

    try:
        replay_orphans(tmp_path, boom)
    except OSError:
        pass
    assert orphan.exists()
    assert os.path.getsize(orphan) > 0
