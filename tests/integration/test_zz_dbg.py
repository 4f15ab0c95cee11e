from tests.integration.test_spill import *  # noqa
from tests.integration import test_spill as ts

def test_dbg(store_dir):
    ts.test_unreplayable_orphan_does_not_block_other_orphans(store_dir)
    print("FILES", [ (f.name, f.stat().st_size) for f in (store_dir/"spill").iterdir()])
    r = stored_run(store_dir, "spill/a-killed")
    rows = scan(store_dir, "spill/a-killed")
    print("KILLED", r.state, len(rows), rows[0]["_step"] if rows else None, rows[-1]["_step"] if rows else None)
