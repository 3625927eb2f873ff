"""A few hundred images through ``imgflow run``: all accounted for, in flat memory.

The run happens in a fresh process, which records its own RSS at every image
done and samples the RSS of its whole process tree (itself, the worker pools
and their children). The verdicts:

- every image has its entry in report.json and its result on disk;
- the orchestrating process does not grow with the number of images done:
  after the first quarter, it stays within a few MB (it grew by about 130 KB
  per image before moto's leaks were plugged: 30 MB here);
- the tree never exceeds the orchestrator plus, per function, the pool size
  times the most one of its workers held (cold start or invocation), with a
  1.25 margin and room for the lossless transcoder's child: the bound the
  pools promise.
"""

from __future__ import annotations

import json
import subprocess
import sys

from PIL import Image

IMAGES = 300
WORKERS = 2
GROWTH_MB = 16  # allowed growth of the orchestrator after the first quarter
CHILD_MB = 64  # the lossless JPEG transcode runs in a short-lived child

RUNNER = r"""
import json, os, sys, threading, time
from pathlib import Path
from imgflow_toolkit.local.run import run
from imgflow_toolkit.local import runtime

def rss(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0

def tree_rss(root):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += rss(pid)
        todo += children.get(pid, [])
    return total

samples, tree_peak, done = {}, [0.0], threading.Event()
def sample():
    while not done.wait(0.05):
        tree_peak[0] = max(tree_peak[0], tree_rss(os.getpid()))
threading.Thread(target=sample, daemon=True).start()

peaks = {}
class Recording(runtime.EmbeddedStack):
    def __exit__(self, *exc):
        peaks.update(self.worker_peaks())
        return super().__exit__(*exc)
import imgflow_toolkit.local.run as run_module
run_module.EmbeddedStack = Recording

source, out, workers = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
run([source], out, progress=lambda d, t: samples.setdefault(d, rss(os.getpid())), workers=workers)
done.set()
json.dump({"rss": samples, "tree_peak": tree_peak[0], "function_peaks": peaks}, sys.stdout)
"""


def test_hundreds_of_images_run_in_flat_memory_within_the_pools_bound(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    for i in range(IMAGES):
        image = Image.new("RGB", (48, 32), ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256))
        image.putpixel((i % 48, i % 32), (0, 0, 0))
        image.save(source / f"img{i:04d}.jpg", quality=70 + i % 26)
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(source), str(out), str(WORKERS)],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    measured = json.loads(done.stdout)

    report = json.loads((out / "report.json").read_text())
    assert len(report) == IMAGES
    assert {e["outcome"] for e in report} <= {"compressed", "kept_original"}, report[:3]
    assert len(list((out / "compressed").iterdir())) == IMAGES

    rss = {int(k): v for k, v in measured["rss"].items()}
    assert len(rss) > IMAGES // 2, "progress is reported as images finish"
    quarter = min(k for k in rss if k >= IMAGES // 4)
    later = max(v for k, v in rss.items() if k >= IMAGES // 2)
    print(
        f"\norchestrator RSS: {rss[quarter]:.0f} MB at {quarter} images, "
        f"at most {later:.0f} MB after {IMAGES // 2}; tree peak {measured['tree_peak']:.0f} MB; "
        f"function peaks {measured['function_peaks']}"
    )
    assert later <= rss[quarter] + GROWTH_MB, rss

    bound = max(rss.values()) + CHILD_MB
    bound += 1.25 * WORKERS * sum(measured["function_peaks"].values())
    assert measured["tree_peak"] <= bound, (measured, bound)
