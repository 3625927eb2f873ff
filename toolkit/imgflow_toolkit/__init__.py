"""imgflow's developer toolkit: the embedded local runtime, reports and the ``imgflow`` CLI.

It imports the core (``imgflow``), never the reverse, and is never deployed:
the Lambda layer holds ``src/`` alone.
"""
