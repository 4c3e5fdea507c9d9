"""`orch ui`: a read-only web page over the run history and the saved blocks.

Started on demand by `orch ui` (needs `pip install 'orch-core[ui]'`); the page reads the
store the CLI uses and never writes to it. See docs/ui.md.
"""
